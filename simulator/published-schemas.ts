import { readFileSync } from 'node:fs';
import Ajv2019, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2019';

/**
 * Holds every send the simulator takes to Infobip's published request schemas (simulator/infobip-schemas/*.json,
 * written from Infobip's generated API clients; each file names its sources), and answers a body they refuse the
 * way Infobip does: WhatsApp's `requestError.serviceException.validationErrors`, Viber's `violations`. The
 * simulator's own checks (phone numbers, WhatsApp's list rows, Viber's label rules) run after this one.
 */

interface SchemaFile {
  endpoints: Record<string, string>;
  schema: { $id: string };
}

type Family = 'whatsapp' | 'viber';

function loadSchemaFile(name: Family): SchemaFile {
  return JSON.parse(readFileSync(new URL(`./infobip-schemas/${name}.json`, import.meta.url), 'utf8')) as SchemaFile;
}

const ajv = new Ajv2019({ allErrors: true, verbose: true, discriminator: true, strict: true });
const validators = new Map<string, { family: Family; validate: ValidateFunction }>();
for (const family of ['whatsapp', 'viber'] as const) {
  const file = loadSchemaFile(family);
  ajv.addSchema(file.schema);
  for (const [path, ref] of Object.entries(file.endpoints)) {
    const validate = ajv.getSchema(`${file.schema.$id}${ref}`);
    if (!validate) throw new Error(`infobip-schemas/${family}.json: no schema at ${ref} for ${path}`);
    validators.set(path, { family, validate });
  }
}

/** The endpoints whose bodies are held to a published schema. */
export const schemaCheckedPaths: readonly string[] = [...validators.keys()];

export interface Violation {
  /** Infobip's property path, e.g. `messages[0].content.templateData.header.filename`. */
  property: string;
  violation: string;
}

/** Infobip's 400 body for WhatsApp's v1 endpoints. */
export function whatsappBadRequest(text: string, validationErrors?: Record<string, string[]>) {
  return {
    requestError: {
      serviceException: { messageId: 'BAD_REQUEST', text, ...(validationErrors ? { validationErrors } : {}) },
    },
  };
}

/** Infobip's 400 body for the newer endpoints (Viber's /viber/2/messages). */
export function viberBadRequest(violations: Violation[]) {
  return {
    errorCode: 'E400',
    description: 'Request cannot be processed.',
    action: 'Check the syntax, violations and adjust the request.',
    violations,
    resources: [],
  };
}

/**
 * Infobip's 400 body for a send whose body its published schema refuses, or null when the body fits (or the path
 * has no schema here).
 */
export function publishedSchemaRefusal(path: string, body: unknown): object | null {
  const checked = validators.get(path);
  if (!checked || checked.validate(body)) return null;
  if (checked.family === 'whatsapp' && (body === null || typeof body !== 'object' || Array.isArray(body)))
    return whatsappBadRequest('Invalid request body');
  const violations = describeErrors(checked.validate.errors ?? []);
  if (checked.family === 'viber') return viberBadRequest(violations);
  const validationErrors: Record<string, string[]> = {};
  for (const { property, violation } of violations)
    validationErrors[property] = [...(validationErrors[property] ?? []), violation];
  return whatsappBadRequest('Bad request', validationErrors);
}

/** Ajv's errors as Infobip words them (Jakarta Bean Validation's messages), one per property and message. */
function describeErrors(errors: ErrorObject[]): Violation[] {
  const seen = new Set<string>();
  const violations: Violation[] = [];
  for (const error of errors) {
    // A oneOf without a discriminator match repeats what the branch said; the branch's own errors are enough.
    if (error.keyword === 'oneOf' || error.keyword === 'if') continue;
    const described = describe(error);
    const key = `${described.property}\n${described.violation}`;
    if (seen.has(key)) continue;
    seen.add(key);
    violations.push(described);
  }
  return violations;
}

function describe(error: ErrorObject): Violation {
  const at = propertyPath(error.instancePath);
  const child = (name: string) => (at ? `${at}.${name}` : name);
  const schema = (error.parentSchema ?? {}) as Record<string, unknown>;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'required':
      return { property: child(String(params.missingProperty)), violation: 'must not be null' };
    case 'additionalProperties':
      return { property: child(String(params.additionalProperty)), violation: 'is not a known property' };
    case 'unevaluatedProperties':
      return { property: child(String(params.unevaluatedProperty)), violation: 'is not a known property' };
    case 'minLength':
    case 'maxLength':
      if (error.keyword === 'minLength' && schema.minLength === 1 && schema.maxLength === undefined)
        return { property: at, violation: 'must not be blank' };
      return { property: at, violation: sizeBetween(schema.minLength, schema.maxLength) };
    case 'minItems':
    case 'maxItems':
      return { property: at, violation: sizeBetween(schema.minItems, schema.maxItems) };
    case 'pattern':
      return { property: at, violation: `must match "${String(params.pattern)}"` };
    case 'const':
      return { property: at, violation: `must be ${JSON.stringify(params.allowedValue)}` };
    case 'enum':
      return { property: at, violation: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'discriminator':
      return params.tagValue === undefined
        ? { property: child(String(params.tag)), violation: 'must not be null' }
        : { property: child(String(params.tag)), violation: `unknown value ${JSON.stringify(params.tagValue)}` };
    case 'minimum':
      return { property: at, violation: `must be greater than or equal to ${String(params.limit)}` };
    case 'maximum':
      return { property: at, violation: `must be less than or equal to ${String(params.limit)}` };
    case 'type':
      return { property: at || '(body)', violation: `must be ${String(params.type)}` };
    default:
      return { property: at || '(body)', violation: error.message ?? 'is not valid' };
  }
}

/** Jakarta's @Size message; an open end is Integer.MAX_VALUE, as Infobip's Java services print it. */
function sizeBetween(min: unknown, max: unknown): string {
  return `size must be between ${typeof min === 'number' ? min : 0} and ${typeof max === 'number' ? max : 2147483647}`;
}

/** `/messages/0/content/text` → `messages[0].content.text`. */
function propertyPath(instancePath: string): string {
  let path = '';
  for (const raw of instancePath.split('/').slice(1)) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    path += /^\d+$/.test(segment) ? `[${segment}]` : path ? `.${segment}` : segment;
  }
  return path;
}
