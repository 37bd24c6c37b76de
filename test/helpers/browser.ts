/**
 * The console in Debian's Chromium (playwright-core; `npx playwright install` cannot run here): one launch and one
 * sign-in for every browser test.
 */
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

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
