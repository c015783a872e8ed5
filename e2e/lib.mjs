// Shared helpers for the browser journeys. The tests drive Debian's Chromium through
// playwright-core (a browser download is impossible on our machines) and check pages with axe.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';

export const BASE_URL = (process.env.BASE_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');

export const ARTIFACTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'artifacts');

export const DEMO_PASSWORD = 'Overgang-demo-2026';

// The demo logins promised by docs/CONTRACT-ui.md.
export const DEMO_USERS = [
  'operator@overgang.test',
  ...['vejle', 'stevns'].flatMap((m) =>
    ['admin', 'leder', 'paedagog', 'laerer', 'specialist', 'analytiker'].map(
      (role) => `${role}@${m}.overgang.test`,
    ),
  ),
];

export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 3, isMobile: true, hasTouch: true };

const CHROMIUM_ARGS = [
  '--no-sandbox', // we run as root in CI, where Chromium's sandbox refuses to start
  '--disable-gpu',
  // The machines have no network beyond loopback; without these Chromium keeps dialling out.
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/**
 * A page in a fresh context (own cookies), so tests never share a session. axe insists on pages
 * that come from an explicit context. Uncaught script errors are collected on `page.pageErrors`.
 */
export async function newPage(browser, contextOptions = {}) {
  const context = await browser.newContext({ baseURL: BASE_URL, locale: 'da-DK', ...contextOptions });
  context.setDefaultTimeout(15_000);
  context.setDefaultNavigationTimeout(30_000);
  const page = await context.newPage();
  page.pageErrors = [];
  page.on('pageerror', (err) => page.pageErrors.push(err));
  return page;
}

/**
 * Run `fn(page)` in a fresh context and always close it; on failure a screenshot
 * `FAILED-<name>.png` is saved first, since that is usually the quickest way to see why.
 */
export async function withPage(browser, name, contextOptions, fn) {
  const page = await newPage(browser, contextOptions);
  try {
    return await fn(page);
  } catch (err) {
    await shot(page, `FAILED-${name}`).catch(() => {});
    throw err;
  } finally {
    await page.context().close();
  }
}

export function pathOf(page) {
  return new URL(page.url()).pathname;
}

/** Fill and submit the login form; resolves once the resulting page has loaded. Asserts nothing. */
export async function login(page, email, password) {
  await page.goto('/login');
  const form = page.locator('form:has(input[name="password"])');
  await form.locator('input[name="email"]').fill(email);
  await form.locator('input[name="password"]').fill(password);
  const submit = form.locator('button[type="submit"], input[type="submit"], button:not([type])').first();
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), submit.click()]);
}

/** Press the "Log ud" button (a POST form) and wait for where it leads. */
export async function logout(page) {
  // The layout has two (header and mobile drawer); click the one a person can see.
  const button = page.getByRole('button', { name: 'Log ud', exact: true }).filter({ visible: true }).first();
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
}

function safeName(name) {
  return name.replace(/[^A-Za-z0-9._-]+/g, '_');
}

/** Full-page screenshot to e2e/artifacts/<name>.png (kept for people to look at). */
export async function shot(page, name) {
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  const file = path.join(ARTIFACTS_DIR, `${safeName(name)}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

function describeViolation(v) {
  const nodes = v.nodes
    .slice(0, 5)
    .map((n) => {
      const why = (n.failureSummary ?? '').split('\n').map((l) => `        ${l.trim()}`).join('\n');
      return `    - ${n.target.join(' ')}\n      ${n.html.replace(/\s+/g, ' ').slice(0, 200)}\n${why}`;
    })
    .join('\n');
  const more = v.nodes.length > 5 ? `\n    … and ${v.nodes.length - 5} more element(s)` : '';
  return `  [${v.impact}] ${v.id}: ${v.help}\n    ${v.helpUrl}\n${nodes}${more}`;
}

/**
 * Run axe (WCAG 2.0/2.1 A and AA) and fail on serious or critical violations. The full result goes
 * to e2e/artifacts/axe-<name>.json; lesser findings are printed but do not fail the test.
 */
export async function checkA11y(page, name) {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  await mkdir(ARTIFACTS_DIR, { recursive: true });
  await writeFile(
    path.join(ARTIFACTS_DIR, `axe-${safeName(name)}.json`),
    JSON.stringify({ url: results.url, violations: results.violations, incomplete: results.incomplete }, null, 2),
  );
  const blocking = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = results.violations.filter((v) => !blocking.includes(v));
  if (minor.length > 0) {
    console.log(`# axe ${name}: ${minor.length} minor/moderate finding(s): ${minor.map((v) => v.id).join(', ')}`);
  }
  if (blocking.length > 0) {
    const report = blocking.map(describeViolation).join('\n');
    assert.fail(`axe found ${blocking.length} serious/critical violation(s) on "${name}" (${page.url()}):\n${report}`);
  }
  return results;
}

/** Fail if the page threw uncaught script errors. */
export function assertNoPageErrors(page) {
  assert.deepEqual(
    page.pageErrors.map((e) => String(e)),
    [],
    'uncaught JavaScript errors on the page',
  );
}

/**
 * Answers every question of the handover form on the page, whatever its kind; every text area
 * with `text`.
 */
export async function fillWholeForm(page, text = 'Skrevet i browsertesten.') {
  await page.evaluate((text) => {
    const form = document.querySelector('form[action$="/form"]');
    const seen = new Set();
    for (const el of form.querySelectorAll('textarea')) el.value = text;
    for (const el of form.querySelectorAll('input[type="date"]')) el.value = '2027-06-01';
    for (const el of form.querySelectorAll('select')) if (el.options.length > 1) el.selectedIndex = 1;
    for (const el of form.querySelectorAll('input[type="radio"], input[type="checkbox"]')) {
      if (!seen.has(el.name)) {
        seen.add(el.name);
        el.checked = true;
      }
    }
  }, text);
}

/**
 * On a page logged in as a pedagogue of Børnehaven Solsikken: a new child `first surname` born on
 * `birthDate` at Solsikken. Ends on the child's page and returns its id.
 */
export async function newChildAtSolsikken(page, { first, surname, birthDate }) {
  await page.goto('/children/new');
  await page.getByLabel('Fornavn').fill(first);
  await page.getByLabel('Efternavn').fill(surname);
  await page.getByLabel('Fødselsdato').fill(birthDate);
  await page.getByLabel('Institution').selectOption({ label: 'Børnehaven Solsikken' });
  await page.getByRole('button', { name: 'Opret barn' }).click();
  await page.locator('h1', { hasText: `${first} ${surname}` }).waitFor();
  return pathOf(page).split('/').pop();
}

/**
 * The child's transition to Bakkeskolen on 1 August 2027 with the whole handover form answered
 * (`fillWholeForm(page, text)`) and saved as a draft. Returns the transition's path.
 */
export async function filledTransitionToBakkeskolen(page, childId, text) {
  await page.goto(`/transitions/new?child=${childId}`);
  await page.getByLabel('Modtagende institution').selectOption({ label: 'Bakkeskolen' });
  const kind = page.getByLabel('Overgangstype');
  if ((await kind.inputValue()) === '') await kind.selectOption('kindergarten_school');
  await page.getByLabel('Planlagt dato').fill('2027-08-01');
  await page.getByRole('button', { name: 'Opret overgang' }).click();
  await page.getByText('Overgangen er oprettet.').waitFor();
  const transitionPath = pathOf(page);
  assert.match(transitionPath, /^\/transitions\/[0-9a-f-]{36}$/);
  await page.goto(`${transitionPath}/form`);
  await fillWholeForm(page, text);
  await Promise.all([
    page.waitForNavigation({ waitUntil: 'load' }),
    page.getByRole('button', { name: 'Gem kladde' }).click(),
  ]);
  return transitionPath;
}

/**
 * On a page logged in as a pedagogue of Børnehaven Solsikken: a new child `first surname` born on
 * `birthDate` with a guardian `guardian` who has no e-mail address, its transition to Bakkeskolen
 * with the whole handover form answered, sent to the parents. Ends on the transition's page and
 * returns its path.
 */
export async function handoverSentToParents(page, { first, surname, birthDate, guardian }) {
  // A child with a guardian who has no e-mail address.
  const childId = await newChildAtSolsikken(page, { first, surname, birthDate });
  await page.getByRole('link', { name: 'Tilføj forælder eller værge' }).click();
  await page.getByLabel('Navn', { exact: true }).fill(guardian);
  await page.getByLabel('Relation til barnet').fill('Mor');
  await page.getByRole('button', { name: 'Tilføj' }).click();
  await page.getByText('Forælderen er tilføjet.').waitFor();

  // The transition to the school, its form filled in, then to the parents.
  const transitionPath = await filledTransitionToBakkeskolen(page, childId);
  await page.goto(transitionPath);
  await page.getByRole('button', { name: 'Send til forældrene' }).click();
  await page.getByText(`Uden e-mailadresse: ${guardian}`).waitFor();
  return transitionPath;
}

/** On a transition's consent ledger: makes a new link for `guardian` and returns it (shown once). */
export async function newParentLink(page, guardian) {
  await page.getByRole('button', { name: `Lav nyt link til ${guardian}` }).click();
  const link = await page.getByLabel(`Link til ${guardian}`).inputValue();
  assert.match(link, /\/foraelder\/[A-Za-z0-9_-]{43}$/);
  return link;
}
