/**
 * The console in Debian's Chromium (playwright-core; `npx playwright install` cannot run here): one launch and one
 * sign-in for every browser test.
 */
import { mkdirSync } from 'node:fs';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { type Stack, type StackOptions, startStack } from './stack';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}

/** A new browser context signed in to the console at `apiUrl` with `token`, in `lang`, on its first page. */
export async function signInToConsole(
  browser: Browser,
  apiUrl: string,
  token: string,
  options: { lang?: 'en' | 'pt-BR'; acceptDownloads?: boolean } = {},
): Promise<{ context: BrowserContext; page: Page }> {
  const lang = options.lang ?? 'en';
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: lang,
    ...(options.acceptDownloads ? { acceptDownloads: true } : {}),
  });
  const page = await context.newPage();
  await page.addInitScript({ content: `localStorage.setItem('janela.lang', ${JSON.stringify(lang)})` });
  await page.goto(apiUrl);
  await page.fill('#token', token);
  await page.click('#login-form button[type=submit]');
  await page.waitForSelector('.topbar');
  return { context, page };
}

/**
 * A file's browser tests on one stack and one Chromium: both started before the file's tests (`adopt` receives them)
 * and closed after; `artifacts`, where the screenshots go, made first.
 */
export function startConsoleTests(
  options: { artifacts?: string; stack?: StackOptions },
  adopt: (started: { stack: Stack; browser: Browser }) => void,
): void {
  const started: { stack?: Stack; browser?: Browser } = {};
  beforeAll(async () => {
    if (options.artifacts) mkdirSync(options.artifacts, { recursive: true });
    started.stack = await startStack(options.stack);
    started.browser = await launchChromium();
    adopt({ stack: started.stack, browser: started.browser });
  });
  afterAll(async () => {
    await started.browser?.close();
    await started.stack?.close();
  });
}
