/**
 * Writing one inbound message, and telling a database that refuses the document (for what it holds: a field name,
 * its nesting, its size) from one that is not there. The first never succeeds on a retry, so it is not retried:
 * the message is stored without its free-form parts and with a note. The second is retried by the caller.
 */
import mongoose from 'mongoose';
import { storageNote } from '../common/free-form';
import { log } from '../common/log';
import { isDuplicateKeyError, Message } from './models';

/**
 * MongoDB server codes (FerretDB answers with the same) that refuse a document for its content: BadValue (2),
 * TypeMismatch (14), DollarPrefixedFieldName (52), EmptyFieldName (56), DottedFieldName (57), DocumentValidationFailure
 * (121), BSONObjectTooLarge (10334), Overflow (15), InvalidBSON (22), and "document nested too deep" (17279/17280).
 */
const REFUSING_SERVER_CODES = new Set([2, 14, 15, 22, 52, 56, 57, 121, 10334, 17279, 17280]);

/**
 * Words of refusals that come without a known code (the driver's BSON serializer, FerretDB's own checks). FerretDB
 * on SQLite answers a document nested ~1,000 deep with InternalError (1) "SQL logic error: malformed JSON".
 */
const REFUSING_WORDS =
  /malformed JSON|invalid key|field names? (may|must|cannot)|must not (start|contain)|is not valid for storage|nest(ed|ing) (too )?deep|too deep|too large|exceeds? (the )?maximum|document is larger|BSON|invalid document/i;

/** Words that mean the database is busy, restarting or unreachable: transient, whatever code comes with them. */
const TRANSIENT_WORDS =
  /SQLITE_BUSY|database is locked|ECONNREFUSED|ECONNRESET|EPIPE|timed out|Timeout|connection|topology|not primary|shutdown|SQLSTATE (08|57P0)/i;

/**
 * The database (or the driver on its behalf) refused this document for what it holds: the same write will be
 * refused again, however often it is retried. A busy, restarting or lost database is never this.
 */
export function isDocumentRefusal(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (TRANSIENT_WORDS.test(`${err.name} ${err.message}`) || err.name.startsWith('MongoNetwork')) return false;
  if (err.name === 'MongoServerSelectionError' || err.name === 'MongoNotConnectedError') return false;
  if (err instanceof mongoose.Error.ValidationError || err instanceof mongoose.Error.CastError) return true;
  // The driver serializes before sending: a key it rejects, a document too large, a stack a deep one overflowed.
  if (err.name === 'BSONError' || err.name === 'BSONVersionError' || err instanceof RangeError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'number' && REFUSING_SERVER_CODES.has(code)) return true;
  return err.name === 'MongoServerError' || err.name === 'MongoInvalidArgumentError'
    ? REFUSING_WORDS.test(err.message)
    : false;
}

export type InboundMessageDocument = {
  _id: string;
  conversationId: string;
  channelId: string;
  type: string;
  text: string | null;
  media: unknown;
  details: Record<string, unknown> | null;
  raw: unknown;
  providerMessageId: string;
  createdAt: Date;
};

/** What became of one inbound message's insert. */
export type InboundInsert = 'stored' | 'stored without details' | 'duplicate';

/**
 * Inserts an inbound message: `duplicate` when Infobip's id is stored already. A document the database refuses
 * for its content is stored again without its details and raw form, with a note the console shows; a database
 * that is down or busy throws (the caller retries: the message must not be lost).
 */
export async function insertInboundMessage(doc: InboundMessageDocument): Promise<InboundInsert> {
  const insert = async (document: InboundMessageDocument) => {
    await Message.create(inboundFields(document));
  };
  try {
    await insert(doc);
    return 'stored';
  } catch (err) {
    if (isDuplicateKeyError(err)) return 'duplicate';
    if (!isDocumentRefusal(err)) throw err;
    const reason = err instanceof Error ? `${err.name}: ${err.message}`.slice(0, 300) : String(err);
    // Never the content: it is what was refused (and the customer's).
    log.warn('inbound message refused by the database; stored without its details', {
      channelId: doc.channelId,
      messageId: doc._id,
      reason,
    });
    try {
      await insert({
        ...doc,
        details: { storageNote: storageNote('not stored (the database refused them)') },
        raw: null,
      });
      return 'stored without details';
    } catch (second) {
      if (isDuplicateKeyError(second)) return 'duplicate';
      throw second;
    }
  }
}

/** The driver's collection under Janela's string ids (its own typing assumes ObjectIds). */
const messageCollection = () => Message.collection as unknown as mongoose.mongo.Collection<{ _id: string }>;

const inboundFields = (doc: InboundMessageDocument) => ({ ...doc, direction: 'inbound', status: 'received' }) as const;

/**
 * Inserts several inbound messages in one write (unordered: each stands alone), with what became of each as
 * `insertInboundMessage` says it. A document mongoose or the database turns down for any other reason than a
 * duplicate goes again on its own through `insertInboundMessage` (its refusal fallback; a database that is down
 * throws there). A write that fails whole throws: the caller retries, and what did land comes back as duplicates.
 */
export async function insertInboundMessages(docs: InboundMessageDocument[]): Promise<InboundInsert[]> {
  const outcomes: (InboundInsert | null)[] = docs.map(() => null);
  const now = new Date();
  // Validated and cast here: the driver's insert skips mongoose's (and its updatedAt, set as create would).
  const checked = await Promise.all(
    docs.map(async (doc, index) => {
      const message = new Message(inboundFields(doc));
      const invalid = await message.validate().then(
        () => false,
        () => true,
      );
      return invalid ? [] : [{ index, document: { ...message.toObject(), updatedAt: now } }];
    }),
  );
  const valid = checked.flat();
  try {
    if (valid.length > 0)
      await messageCollection().insertMany(
        valid.map((v) => v.document),
        { ordered: false },
      );
    for (const { index } of valid) outcomes[index] = 'stored';
  } catch (err) {
    if (err instanceof mongoose.mongo.MongoBulkWriteError) {
      const failed = new Map([err.writeErrors].flat().map((writeError) => [writeError.index, writeError.code]));
      valid.forEach(({ index }, position) => {
        const code = failed.get(position);
        outcomes[index] = code === undefined ? 'stored' : code === 11000 ? 'duplicate' : null;
      });
    } else if (!isDocumentRefusal(err)) throw err;
    // Otherwise refused whole (the driver could not serialize one of them): each goes again on its own, below.
  }
  for (const [index, outcome] of outcomes.entries())
    if (outcome === null) outcomes[index] = await insertInboundMessage(docs[index]!);
  return outcomes as InboundInsert[];
}
