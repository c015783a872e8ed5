// The analyst's insights: the municipality page, a cluster and its yearly report. Every page must
// pass axe; the analyst never meets a child (no child route answers).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
const ANALYST = 'analytiker@vejle.overgang.test';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

async function follow(page, locator) {
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), locator.click()]);
}

describe('insights', () => {
  test('an analyst reads the figures of the municipality and a cluster', TIMEOUT, async () => {
    await withPage(browser, 'insights', {}, async (page) => {
      await login(page, ANALYST, DEMO_PASSWORD);
      const nav = page.getByRole('link', { name: 'Indsigt', exact: true }).filter({ visible: true }).first();
      await follow(page, nav);
      assert.equal(pathOf(page), '/insights');
      await page.getByRole('heading', { name: /Indsigt: Vejle Kommune/, level: 1 }).waitFor();
      await page.getByText('Sådan er tallene beregnet').waitFor();
      await shot(page, 'insights-municipality');
      await checkA11y(page, 'insights-municipality');

      // the filter is an ordinary GET form
      await page.getByLabel('Type overgang').selectOption('kindergarten_school');
      await follow(page, page.getByRole('button', { name: 'Vis tal' }));
      assert.match(page.url(), /kind=kindergarten_school/);
      await checkA11y(page, 'insights-filtered');

      await follow(page, page.getByRole('link', { name: 'Pilotklynge Bakkeskolen' }));
      assert.match(pathOf(page), /^\/insights\/clusters\/[0-9a-f-]{36}$/);
      await shot(page, 'insights-cluster');
      await checkA11y(page, 'insights-cluster');

      const report = page.getByRole('link', { name: 'Årsrapport til samarbejdsaftalen' });
      if (await report.count()) {
        await follow(page, report);
      } else {
        await page.goto(`${pathOf(page)}/report?year=2026`);
      }
      await page.getByRole('heading', { name: /Årsrapport \d{4}: Pilotklynge Bakkeskolen/, level: 1 }).waitFor();
      await shot(page, 'insights-report');
      await checkA11y(page, 'insights-report');

      // the analyst has no child routes
      const status = (await page.goto('/children')).status();
      assert.equal(status, 403);
      assertNoPageErrors(page);
    });
  });

  test('with a history the figures are shown, not suppressed', TIMEOUT, async () => {
    // scripts/e2e.sh writes one synthetic municipality (9001) with five cohorts of history.
    await withPage(browser, 'insights-figures', {}, async (page) => {
      await login(page, 'analytiker@syn9001.overgang.test', DEMO_PASSWORD);
      await page.goto('/insights');
      await page.getByRole('heading', { name: /^Indsigt: /, level: 1 }).waitFor();
      const values = page.locator('table.insights-table').first().locator('tbody td:nth-child(2)');
      const texts = (await values.allTextContents()).map((t) => t.trim());
      assert.ok(texts.length >= 3, `key figures listed: ${texts}`);
      const shown = texts.filter((t) => /\d/.test(t) && !/færre end/.test(t));
      assert.ok(shown.length >= 3, `figures shown, not suppressed: ${texts}`);
      await page.getByRole('img').first().waitFor();
      await shot(page, 'insights-figures');
      await checkA11y(page, 'insights-figures');
      assertNoPageErrors(page);
    });
  });
});
