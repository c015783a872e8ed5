// Logging in and out as every demo user, with accessibility checks on the pages involved.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  DEMO_PASSWORD,
  DEMO_USERS,
  PHONE,
  assertNoPageErrors,
  checkA11y,
  launch,
  login,
  logout,
  pathOf,
  shot,
  withPage,
} from '../lib.mjs';

const TIMEOUT = { timeout: 60_000 };

// A user the failed attempt is made against; one wrong password must not lock anyone out.
const WRONG_PASSWORD_USER = 'analytiker@stevns.overgang.test';

const ERROR_SELECTOR = '[role="alert"], .alert-error, .form-error-message';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function assertLoginForm(page) {
  const form = page.locator('form:has(input[name="password"])');
  await assert.doesNotReject(form.waitFor(), 'login form with a password field');
  assert.equal(await form.locator('input[name="email"]').count(), 1, 'one email field');
  assert.equal(await form.locator('input[name="password"][type="password"]').count(), 1, 'one password field');
  const csrf = await form.locator('input[type="hidden"][name="_csrf"]').getAttribute('value');
  assert.ok(csrf && csrf.length >= 16, 'hidden _csrf field carries a token');
  assert.equal(await form.locator('input[type="hidden"][name="next"]').count(), 1, 'hidden next field');
}

async function logoutButtons(page) {
  return page.getByRole('button', { name: 'Log ud', exact: true }).count();
}

describe('login', () => {
  test('login page has the form and passes axe', TIMEOUT, async () => {
    await withPage(browser, 'login-page', {}, async (page) => {
      const response = await page.goto('/login');
      assert.equal(response.status(), 200);
      await assertLoginForm(page);
      assert.equal(await logoutButtons(page), 0, 'anonymous visitors see no "Log ud"');
      await shot(page, 'login');
      await checkA11y(page, 'login');
      assertNoPageErrors(page);
    });
  });

  test('a wrong password shows an error and stays on /login', TIMEOUT, async () => {
    await withPage(browser, 'login-wrong-password', {}, async (page) => {
      await login(page, WRONG_PASSWORD_USER, 'helt-forkert-kodeord');
      assert.equal(pathOf(page), '/login');
      const error = page.locator(ERROR_SELECTOR).filter({ hasText: /\S/ }).first();
      await assert.doesNotReject(error.waitFor({ state: 'visible' }), `a visible error message (${ERROR_SELECTOR})`);
      assert.equal(await logoutButtons(page), 0, 'not logged in');
      const form = page.locator('form:has(input[name="password"])');
      assert.equal(await form.locator('input[name="email"]').inputValue(), WRONG_PASSWORD_USER, 'email is kept');
      assert.equal(await form.locator('input[name="password"]').inputValue(), '', 'password is not echoed back');
      await shot(page, 'login-wrong-password');
      await checkA11y(page, 'login-wrong-password');
    });
  });

  test('login page on a phone (390x844) passes axe', TIMEOUT, async () => {
    await withPage(browser, 'login-phone', PHONE, async (page) => {
      const response = await page.goto('/login');
      assert.equal(response.status(), 200);
      await assertLoginForm(page);
      await shot(page, 'login-phone');
      await checkA11y(page, 'login-phone');
    });
  });
});

describe('every demo user can log in and out', () => {
  for (const email of DEMO_USERS) {
    const [local, domain] = email.split('@');
    const municipality = domain.split('.')[0];
    const name = municipality === 'overgang' ? local : `${local}-${municipality}`;
    test(email, TIMEOUT, async () => {
      await withPage(browser, `dashboard-${name}`, {}, async (page) => {
        await login(page, email, DEMO_PASSWORD);
        assert.equal(pathOf(page), '/', `after login ${email} lands on the dashboard`);
        assert.ok(await logoutButtons(page) >= 1, 'a "Log ud" button is shown');
        const h1 = page.locator('h1').first();
        assert.match((await h1.textContent()) ?? '', /\S/, 'the dashboard has a heading');
        await shot(page, `dashboard-${name}`);
        await checkA11y(page, `dashboard-${name}`);
        assertNoPageErrors(page);

        await logout(page);
        assert.ok(['/login', '/'].includes(pathOf(page)), `after logout on /login or /, not ${page.url()}`);
        assert.equal(await logoutButtons(page), 0, 'logged out');
        // The session must really be gone, not just the page changed.
        await page.goto('/');
        assert.equal(await logoutButtons(page), 0, 'still logged out when coming back to /');
      });
    });
  }
});

describe('the session ends only after a warning', () => {
  // The session ends after 4 hours without a request (WCAG 2.2.1): 5 minutes before, a dialog
  // says when and offers to stay signed in; once the time has passed it says so.
  test('warned 5 minutes before the idle limit, staying signed in, then logged out', TIMEOUT, async () => {
    await withPage(browser, 'session-warning', {}, async (page) => {
      await page.clock.install();
      await login(page, 'paedagog@vejle.overgang.test', DEMO_PASSWORD);
      await page.goto('/transitions');
      const secs = Number(await page.locator('body').getAttribute('data-idle-secs'));
      assert.ok(secs > 3 * 3600, `the page says when the session ends (${secs} s)`);
      const dialog = page.getByRole('alertdialog');
      await page.clock.fastForward((secs - 6 * 60) * 1000);
      assert.equal(await dialog.count(), 0, 'no warning six minutes before');
      await page.clock.fastForward(2 * 60 * 1000);
      await dialog.waitFor();
      assert.match(await dialog.textContent(), /Du bliver snart logget ud.*kl\. \d\d:\d\d/s);
      const stay = dialog.getByRole('button', { name: 'Forbliv logget ind' });
      assert.ok(await stay.evaluate((b) => b === document.activeElement), 'the button has focus');
      await shot(page, 'session-warning');
      await checkA11y(page, 'session-warning');
      const [keepalive] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith('/session/keepalive')),
        stay.press('Enter'),
      ]);
      assert.equal(keepalive.status(), 204);
      await dialog.waitFor({ state: 'hidden' });
      // The clock starts again from the keepalive: past it, the page says the user is logged out.
      await page.clock.fastForward((secs + 60) * 1000);
      await dialog.waitFor();
      assert.match(await dialog.textContent(), /Du er logget ud/);
      const again = dialog.getByRole('link', { name: 'Log ind igen' });
      assert.equal(await again.getAttribute('href'), '/login?next=%2Ftransitions');
      assertNoPageErrors(page);
    });
  });

  test('anonymous pages carry no warning', TIMEOUT, async () => {
    await withPage(browser, 'session-warning-anonymous', {}, async (page) => {
      await page.goto('/login');
      assert.equal(await page.locator('body').getAttribute('data-idle-secs'), null);
    });
  });
});
