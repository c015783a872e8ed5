// User administration as an administrator would do it: the user list, inviting someone (first
// with mistakes, then properly), the new user's page, the own account, and the anonymous pages
// behind e-mailed links. Every page must pass axe.
//
// Accepting the invitation needs the link from the e-mail. In development the mail goes to the
// server log, so when the log is readable (scripts/e2e.sh writes it to e2e/artifacts/app.log, or
// point SERVER_LOG at it) the journey continues through the invitation page and the first login.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  ARTIFACTS_DIR,
  DEMO_PASSWORD,
  assertNoPageErrors,
  checkA11y,
  launch,
  login,
  pathOf,
  shot,
  withPage,
} from '../lib.mjs';

const TIMEOUT = { timeout: 90_000 };
const ADMIN = 'admin@vejle.overgang.test';
const SERVER_LOG = process.env.SERVER_LOG ?? path.join(ARTIFACTS_DIR, 'app.log');
// Unique per run: the server's database outlives a test run.
const STAMP = Date.now().toString(36);
const INVITEE = { name: `Ida Test ${STAMP}`, email: `ida.${STAMP}@vejle.example` };
const INVITEE_PASSWORD = 'en lang og god adgangskode';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function submit(page, form) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), form.locator('button[type="submit"]').first().click()]);
}

/** The invitation link for `email` from the log transport's output, or null. */
async function invitationLinkFromLog(email) {
  let log;
  try {
    log = await readFile(SERVER_LOG, 'utf8');
  } catch {
    return null;
  }
  // Strip ANSI colours, then find the mail body that names this address.
  const text = log.replace(/\x1b\[[0-9;]*m/g, '');
  const re = /(\/invitation\/[A-Za-z0-9_-]{43})\s+Derefter logger du ind med din e-mailadresse (\S+) /g;
  let found = null;
  for (const m of text.matchAll(re)) {
    if (m[2] === email) found = m[1];
  }
  return found;
}

describe('user administration', () => {
  test('an administrator lists users, invites one and opens the account page', TIMEOUT, async () => {
    await withPage(browser, 'users-admin', {}, async (page) => {
      await login(page, ADMIN, DEMO_PASSWORD);
      assert.equal(pathOf(page), '/');

      await page.getByRole('link', { name: 'Brugere' }).filter({ visible: true }).first().click();
      await page.waitForLoadState('load');
      assert.equal(pathOf(page), '/users');
      assert.equal(await page.locator('h1').textContent(), 'Brugere');
      assert.ok((await page.locator('table tbody tr').count()) >= 6, 'the demo users are listed');
      await shot(page, 'users-list');
      await checkA11y(page, 'users-list');

      // Filtering keeps working without JavaScript: it is a plain GET form.
      await page.locator('#role').selectOption('analyst');
      await submit(page, page.locator('form[action="/users"]'));
      assert.match(page.url(), /role=analyst/);
      assert.equal(await page.locator('table tbody tr').count(), 1);
      await checkA11y(page, 'users-list-filtered');

      await page.goto('/users/invite');
      const form = page.locator('form[action="/users/invite"]');
      await form.locator('#name').fill(INVITEE.name);
      await form.locator('#email').fill('ikke-en-adresse');
      await form.locator('#role').selectOption('staff');
      await submit(page, form);
      assert.equal(pathOf(page), '/users/invite');
      const summary = page.locator('[data-module="error-summary"]');
      await summary.waitFor();
      assert.match(await summary.textContent(), /gyldig e-mailadresse/);
      assert.match(await summary.textContent(), /institution, hvor brugeren skal være medarbejder/);
      assert.equal(await form.locator('#name').inputValue(), INVITEE.name, 'input is kept');
      assert.equal(await form.locator('#email').getAttribute('aria-invalid'), 'true');
      await shot(page, 'users-invite-errors');
      await checkA11y(page, 'users-invite-errors');

      await form.locator('#email').fill(INVITEE.email);
      await form.locator('#institution').selectOption({ label: 'Børnehaven Solsikken' });
      await submit(page, form);
      assert.match(pathOf(page), /^\/users\/[0-9a-f-]{36}$/);
      assert.equal(await page.locator('h1').textContent(), INVITEE.name);
      assert.match(await page.locator('[role="status"]').first().textContent(), /er inviteret/);
      assert.ok(await page.getByRole('cell', { name: 'Medarbejder ved Børnehaven Solsikken', exact: true }).isVisible());
      assert.ok(await page.getByRole('button', { name: 'Send invitationen igen' }).isVisible());
      await shot(page, 'users-show');
      await checkA11y(page, 'users-show');

      await page.goto('/account');
      assert.equal(await page.locator('h1').textContent(), 'Min konto');
      assert.ok(await page.getByText('Kommunal administrator').first().isVisible());
      await shot(page, 'account');
      await checkA11y(page, 'account');
      assertNoPageErrors(page);
    });
  });

  test('the anonymous link pages pass axe', TIMEOUT, async () => {
    await withPage(browser, 'users-anonymous', {}, async (page) => {
      await page.goto('/login');
      await page.getByRole('link', { name: 'Glemt adgangskode?' }).click();
      await page.waitForLoadState('load');
      assert.equal(pathOf(page), '/password/forgot');
      await checkA11y(page, 'password-forgot');
      const form = page.locator('form[action="/password/forgot"]');
      await form.locator('#email').fill('ingen.bruger@vejle.example');
      await submit(page, form);
      assert.equal(pathOf(page), '/login');
      assert.match(await page.locator('[role="status"]').first().textContent(), /Hvis adressen findes/);

      const response = await page.goto(`/password/reset/${'A'.repeat(43)}`);
      assert.equal(response.status(), 404);
      assert.equal(await page.locator('h1').textContent(), 'Linket virker ikke');
      await shot(page, 'link-invalid');
      await checkA11y(page, 'link-invalid');
    });
  });

  test('the invited user chooses a password and logs in', TIMEOUT, async (t) => {
    const link = await invitationLinkFromLog(INVITEE.email);
    if (!link) {
      t.skip(`no invitation for ${INVITEE.email} in ${SERVER_LOG} (set SERVER_LOG to the server's log)`);
      return;
    }
    await withPage(browser, 'users-accept', {}, async (page) => {
      await page.goto(link);
      assert.equal(await page.locator('h1').textContent(), 'Velkommen til Overgang');
      const form = page.locator(`form[action="${link}"]`);
      await form.locator('#new_password').fill(INVITEE_PASSWORD);
      await form.locator('#new_password_again').fill('noget andet end før');
      await submit(page, form);
      await page.locator('[data-module="error-summary"]').waitFor();
      assert.equal(await form.locator('#new_password').inputValue(), '', 'passwords are not echoed');
      await checkA11y(page, 'invitation-errors');

      await form.locator('#new_password').fill(INVITEE_PASSWORD);
      await form.locator('#new_password_again').fill(INVITEE_PASSWORD);
      await submit(page, form);
      assert.equal(pathOf(page), '/login');
      assert.match(await page.locator('[role="status"]').first().textContent(), /adgangskode er gemt/);

      await login(page, INVITEE.email, INVITEE_PASSWORD);
      assert.equal(pathOf(page), '/');
      assert.match(await page.locator('body').textContent(), new RegExp(INVITEE.name));
      await checkA11y(page, 'invited-user-dashboard');
    });
  });
});
