// Transfers between municipalities in a browser: a pedagogue in Vejle writes two handovers and
// marks them ready; Vejle's administrator moves one child to Stevns (and downloads the package as
// JSON) and the other to an unknown destination. Stevns' administrator sees only the minimal facts
// of the pending transfer, accepts it for Strandskolen and reads the received handover; Stevns'
// teacher finds it in the inbox. Vejle then sees it accepted; the unknown destination is set to
// Stevns from the queue, Stevns rejects it with a reason, and Vejle sees the rejection. Every page
// passes axe.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import {
  DEMO_PASSWORD,
  assertNoPageErrors,
  checkA11y,
  filledTransitionToBakkeskolen,
  launch,
  login,
  newChildAtSolsikken,
  pathOf,
  shot,
  withPage,
} from '../lib.mjs';

const TIMEOUT = { timeout: 180_000 };
const PAEDAGOG = 'paedagog@vejle.overgang.test';
const VEJLE_ADMIN = 'admin@vejle.overgang.test';
const STEVNS_ADMIN = 'admin@stevns.overgang.test';
const STEVNS_LAERER = 'laerer@stevns.overgang.test';

const letters = () =>
  Array.from({ length: 6 }, () => String.fromCharCode(97 + Math.floor(Math.random() * 26))).join('');
const MOVER = { first: 'Asta', last: `Flyttesen${letters()}`, birth: '2021-05-06', shown: '06-05-2021' };
const UNKNOWN = { first: 'Viggo', last: `Ukendtsen${letters()}`, birth: '2021-07-08', shown: '08-07-2021' };
const STRENGTH = `Asta hjælper gerne de mindre børn med at tage tøj på (${letters()}).`;
const REJECTION = `Barnet bor ikke i Stevns (${letters()}).`;

let browser;
const paths = {};
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

/** A child at Solsikken, its transition to Bakkeskolen, the form filled in, marked ready. */
async function readyHandover(page, child, text) {
  const childId = await newChildAtSolsikken(page, {
    first: child.first,
    surname: child.last,
    birthDate: child.birth,
  });
  const transitionPath = await filledTransitionToBakkeskolen(page, childId, text);
  await page.goto(transitionPath);
  await page.getByRole('button', { name: 'Markér som klar' }).click();
  await page.getByText('Status er nu «Klar til afsendelse»').waitFor();
  return transitionPath;
}

/** The value of the option of `select` whose text mentions Stevns. */
async function stevnsOption(select) {
  const value = await select.evaluate((el) => {
    const o = [...el.options].find((x) => /Stevns/.test(x.textContent));
    return o ? o.value : null;
  });
  assert.ok(value, 'Stevns is offered as a destination');
  return value;
}

/** The pending transfer of `child` on Stevns' overview. */
function pendingSection(page, child) {
  return page.locator('section', { has: page.locator('h3', { hasText: `${child.first}, født ${child.shown}` }) });
}

describe('transfers', () => {
  test('a pedagogue in Vejle prepares two handovers', TIMEOUT, async () => {
    await withPage(browser, 'transfers-prepare', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      paths.mover = await readyHandover(page, MOVER, STRENGTH);
      paths.unknown = await readyHandover(page, UNKNOWN, 'Viggo er glad for at tegne.');
      // A pedagogue does not lead the institution: no transfer, but the package may be fetched.
      await page.goto(paths.mover);
      await page.getByRole('heading', { name: 'Flytning til en anden kommune' }).waitFor();
      assert.equal(await page.getByRole('link', { name: 'Flyt barnet til en anden kommune' }).count(), 0);
      assertNoPageErrors(page);
    });
  });

  test("Vejle's administrator starts a transfer to Stevns and downloads the package", TIMEOUT, async () => {
    assert.ok(paths.mover, 'the first test made the handovers');
    await withPage(browser, 'transfers-start', {}, async (page) => {
      await login(page, VEJLE_ADMIN, DEMO_PASSWORD);
      await page.goto(paths.mover);
      await page.getByRole('heading', { name: 'Flytning til en anden kommune' }).waitFor();
      await checkA11y(page, 'transfers-transition-ready');

      // The package as a file.
      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.getByRole('link', { name: 'Hent overleveringen som pakke (JSON)' }).click(),
      ]);
      assert.match(download.suggestedFilename(), /^overlevering-[0-9a-f-]{36}\.json$/);
      const pkg = JSON.parse(await readFile(await download.path(), 'utf8'));
      assert.equal(pkg.format, 'overgang.handover-package');
      assert.equal(pkg.version, 1);
      assert.equal(pkg.sender.municipality.code, '0630');
      assert.deepEqual(pkg.child, { first_name: MOVER.first, last_name: MOVER.last, birth_date: MOVER.birth });
      assert.ok(pkg.sections.length > 0, 'the package has sections');
      assert.ok(
        pkg.sections.some((s) => s.items.some((i) => i.answer === STRENGTH)),
        'the answers are in the package',
      );
      assert.ok(!JSON.stringify(pkg).match(/cpr/i), 'no CPR number in the package');
      const direct = await page.request.get(`${paths.mover}/package.json`);
      assert.equal(direct.status(), 200);
      assert.match(direct.headers()['content-type'], /^application\/json/);

      await page.getByRole('link', { name: 'Flyt barnet til en anden kommune' }).click();
      assert.equal(pathOf(page), `${paths.mover}/transfer`);
      await page.getByRole('heading', { name: `Flyt ${MOVER.first} ${MOVER.last} til en anden kommune` }).waitFor();
      await shot(page, 'transfers-start');
      await checkA11y(page, 'transfers-start');

      // Without a destination (the browser's own check taken away): the form again, with the error.
      const destination = page.getByLabel('Kommunen, barnet flytter til');
      await destination.evaluate((el) => el.removeAttribute('required'));
      const [invalid] = await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Start flytningen' }).click(),
      ]);
      assert.equal(invalid.status(), 422);
      const message = 'Vælg den kommune, barnet flytter til, eller «Ukendt destination».';
      await page.getByRole('link', { name: message }).waitFor();
      await page.locator('.form-error-message', { hasText: message }).waitFor();
      assert.match(await page.title(), /^Fejl: /);
      assert.equal(await destination.getAttribute('aria-invalid'), 'true');
      await checkA11y(page, 'transfers-start-error');

      await destination.selectOption(await stevnsOption(destination));
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Start flytningen' }).click(),
      ]);
      assert.equal(pathOf(page), paths.mover);
      await page.getByText(/Flytningen er sendt til Stevns/).waitFor();
      await page.getByText('Afventer modtagerkommunen').waitFor();
      assert.equal(
        await page.getByRole('link', { name: 'Flyt barnet til en anden kommune' }).count(),
        0,
        'no second transfer while one is open',
      );
      await shot(page, 'transfers-transition-pending');
      await checkA11y(page, 'transfers-transition-pending');

      // The other child: nobody knows where it moved.
      await page.goto(`${paths.unknown}/transfer`);
      await page.getByLabel('Kommunen, barnet flytter til').selectOption('unknown');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.getByRole('button', { name: 'Start flytningen' }).click(),
      ]);
      await page.getByText('Flytningen venter på en destination hos kommunens administrator.').waitFor();
      await page.getByText('til Ukendt.').waitFor();
      assertNoPageErrors(page);
    });
  });

  test("Stevns' administrator sees only the minimal facts and accepts", TIMEOUT, async () => {
    assert.ok(paths.mover);
    await withPage(browser, 'transfers-accept', {}, async (page) => {
      await login(page, STEVNS_ADMIN, DEMO_PASSWORD);
      await page.goto('/transfers');
      await page.getByRole('heading', { name: 'Flytninger mellem kommuner' }).waitFor();
      const section = pendingSection(page, MOVER);
      await section.waitFor();
      assert.match(await section.textContent(), /Fra Vejle.*\(0630\)/);
      const html = await page.content();
      assert.ok(!html.includes(MOVER.last), 'no last name before acceptance');
      assert.ok(!html.includes(STRENGTH), 'no answers before acceptance');
      assert.ok(!html.includes(UNKNOWN.first), 'a transfer with an unknown destination is nobody else’s');
      await shot(page, 'transfers-incoming');
      await checkA11y(page, 'transfers-incoming');
      // The package of a Vejle transition is not Stevns' to fetch.
      assert.equal((await page.request.get(`${paths.mover}/package.json`)).status(), 404);

      await section.getByLabel('Modtagende institution').selectOption({ label: 'Strandskolen' });
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        section.getByRole('button', { name: 'Tag imod' }).click(),
      ]);
      assert.match(pathOf(page), /^\/transfers\/received\/[0-9a-f-]{36}$/);
      paths.received = pathOf(page);
      await page.getByText('Flytningen er modtaget.', { exact: false }).waitFor();
      await page.getByRole('heading', { name: `Overlevering for ${MOVER.first} ${MOVER.last}` }).waitFor();
      assert.ok(await page.getByText(STRENGTH).first().isVisible(), 'the received answers are readable');
      assert.ok((await page.content()).includes('Strandskolen'));
      await shot(page, 'transfers-received');
      await checkA11y(page, 'transfers-received');

      await page.goto('/transfers');
      assert.equal(await pendingSection(page, MOVER).count(), 0, 'no longer pending');
      const row = page.locator('tr', { hasText: `${MOVER.first} ${MOVER.last}` });
      assert.match(await row.textContent(), /Vejle.*Strandskolen.*Flytning/);
      await checkA11y(page, 'transfers-overview-after');
      assertNoPageErrors(page);
    });
  });

  test("Stevns' teacher finds the received handover in the inbox", TIMEOUT, async () => {
    assert.ok(paths.received);
    await withPage(browser, 'transfers-inbox', {}, async (page) => {
      await login(page, STEVNS_LAERER, DEMO_PASSWORD);
      await page.goto('/inbox');
      await page.getByRole('heading', { name: 'Fra andre kommuner' }).waitFor();
      await checkA11y(page, 'transfers-inbox');
      await page.getByRole('link', { name: `${MOVER.first} ${MOVER.last}` }).click();
      assert.equal(pathOf(page), paths.received);
      assert.ok(await page.getByText(STRENGTH).first().isVisible());
      await checkA11y(page, 'transfers-received-teacher');
    });
  });

  test("Vejle sees the acceptance and sends the unknown destination to Stevns", TIMEOUT, async () => {
    assert.ok(paths.received);
    await withPage(browser, 'transfers-vejle-after', {}, async (page) => {
      await login(page, VEJLE_ADMIN, DEMO_PASSWORD);
      await page.goto(paths.mover);
      await page.getByText('Modtaget af modtagerkommunen').waitFor();
      await shot(page, 'transfers-transition-accepted');
      await checkA11y(page, 'transfers-transition-accepted');

      await page.goto('/transfers');
      const outgoing = page.locator('tr', { hasText: `${MOVER.first} ${MOVER.last}` });
      assert.match(await outgoing.textContent(), /Stevns.*Modtaget af modtagerkommunen/);
      const queue = page.locator('section', {
        has: page.getByRole('heading', { name: `${UNKNOWN.first} ${UNKNOWN.last}` }),
      });
      await queue.waitFor();
      await shot(page, 'transfers-unknown-queue');
      await checkA11y(page, 'transfers-unknown-queue');
      const select = queue.getByLabel('Kommunen, barnet er flyttet til');
      await select.selectOption(await stevnsOption(select));
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        queue.getByRole('button', { name: 'Send til kommunen' }).click(),
      ]);
      await page.getByText(/Flytningen er sendt til Stevns/).waitFor();
      assert.equal(await queue.count(), 0, 'gone from the queue');
      assert.match(
        await page.locator('tr', { hasText: `${UNKNOWN.first} ${UNKNOWN.last}` }).textContent(),
        /Stevns.*Afventer modtagerkommunen/,
      );
      await checkA11y(page, 'transfers-unknown-sent');
      assertNoPageErrors(page);
    });
  });

  test('Stevns rejects the second transfer and Vejle sees why', TIMEOUT, async () => {
    assert.ok(paths.unknown);
    await withPage(browser, 'transfers-reject', {}, async (page) => {
      await login(page, STEVNS_ADMIN, DEMO_PASSWORD);
      await page.goto('/transfers');
      const section = pendingSection(page, UNKNOWN);
      await section.waitFor();
      await section.getByLabel(/^Begrundelse for at afvise/).fill(REJECTION);
      page.once('dialog', (d) => d.accept()); // the form asks before rejecting
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        section.getByRole('button', { name: 'Afvis' }).click(),
      ]);
      await page.getByText('Flytningen er afvist. Afsenderkommunen kan se det.').waitFor();
      assert.equal(await pendingSection(page, UNKNOWN).count(), 0);
      assert.ok(!(await page.content()).includes(UNKNOWN.last), 'nothing of a rejected child stays');
      await checkA11y(page, 'transfers-rejected');
    });
    await withPage(browser, 'transfers-rejected-vejle', {}, async (page) => {
      await login(page, VEJLE_ADMIN, DEMO_PASSWORD);
      await page.goto(paths.unknown);
      await page.getByText(`(${REJECTION})`).waitFor();
      await page.getByText('Afvist af modtagerkommunen').waitFor();
      // Rejected: a new transfer may start.
      await page.getByRole('link', { name: 'Flyt barnet til en anden kommune' }).waitFor();
      await shot(page, 'transfers-transition-rejected');
      await checkA11y(page, 'transfers-transition-rejected');
    });
  });
});
