// Feedback: the demo seed hands "Ida Eksempel" over from Børnehaven Solsikken to Bakkeskolen on a
// date past Vejle's feedback delay, so the school's teacher finds a feedback request on /feedback.
// The teacher makes a mistake, then answers; afterwards the sender's ratings appear next to the
// teacher's, and the pedagogue at Solsikken sees the feedback on the transition. Every page is
// checked with axe (no serious or critical findings).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO_PASSWORD, assertNoPageErrors, checkA11y, launch, login, pathOf, shot, withPage } from '../lib.mjs';

const TIMEOUT = { timeout: 120_000 };
const LAERER = 'laerer@vejle.overgang.test';
const PAEDAGOG = 'paedagog@vejle.overgang.test';
const CHILD = 'Ida Eksempel';

let browser;
before(async () => {
  browser = await launch();
});
after(async () => {
  await browser?.close();
});

describe('feedback', () => {
  test('the receiving teacher answers a feedback request and the sender sees it', TIMEOUT, async () => {
    await withPage(browser, 'feedback-teacher', {}, async (page) => {
      await login(page, LAERER, DEMO_PASSWORD);
      await page.getByRole('link', { name: 'Tilbagemeldinger' }).first().click();
      assert.equal(pathOf(page), '/feedback');
      assert.equal(await page.locator('h1').textContent(), 'Tilbagemeldinger');
      await checkA11y(page, 'feedback-list');
      await shot(page, 'feedback-list');

      await page.getByRole('link', { name: CHILD }).click();
      assert.match(pathOf(page), /^\/feedback\/[0-9a-f-]{36}$/);
      const formPath = pathOf(page);
      assert.equal(await page.locator('h1').textContent(), `Tilbagemelding om ${CHILD}`);
      // The sender's ratings stay hidden until the teacher has answered.
      assert.equal(await page.locator('input[type="radio"]:checked').count(), 0);
      assert.equal(await page.getByText('Afsenderens vurdering').count(), 0);
      await checkA11y(page, 'feedback-form');

      // A mistake first: nothing chosen about the handover.
      await page.getByRole('button', { name: 'Send tilbagemelding' }).click();
      await page.locator('.alert-error').waitFor();
      assert.match(await page.locator('#usefulness-error').textContent(), /Vælg, hvor brugbar/);
      assert.equal(pathOf(page), formPath);
      await checkA11y(page, 'feedback-form-errors');
      await shot(page, 'feedback-form-errors');

      // Every themed rating: the first option of each group.
      const names = await page
        .locator('input[type="radio"][name^="rating_"]')
        .evaluateAll((inputs) => [...new Set(inputs.map((i) => i.name))]);
      assert.ok(names.length >= 6, `themes to rate: ${names.length}`);
      for (const name of names) {
        await page.locator(`input[name="${name}"]`).first().check();
      }
      await page.getByLabel('4 – brugbar', { exact: true }).check();
      await page.getByLabel('4 – dækkende', { exact: true }).check();
      await page.getByLabel('Hvad manglede I at vide?').fill('Hvordan hun bedst falder til ro efter frikvarteret.');
      await page.locator('input[name="special_support"][value="no"]').check();
      await page.locator('input[name="deferred_start"][value="no"]').check();
      await page.locator('input[name="ppr_referral"][value="no"]').check();
      await page.getByRole('button', { name: 'Send tilbagemelding' }).click();
      await page.getByText('Tak! Tilbagemeldingen er sendt').waitFor();
      assert.equal(pathOf(page), formPath);
      assert.ok(await page.getByRole('columnheader', { name: 'Afsenderens vurdering' }).isVisible());
      assert.equal(await page.getByRole('button', { name: 'Send tilbagemelding' }).count(), 0);
      await checkA11y(page, 'feedback-answered');
      await shot(page, 'feedback-answered');

      await page.goto('/feedback');
      assert.equal(await page.getByRole('link', { name: CHILD }).count(), 0, 'answered requests leave the list');
      assertNoPageErrors(page);
    });

    await withPage(browser, 'feedback-sender', {}, async (page) => {
      await login(page, PAEDAGOG, DEMO_PASSWORD);
      await page.goto('/transitions');
      await page.getByRole('link', { name: CHILD }).first().click();
      await page.getByRole('link', { name: 'Modtagerens tilbagemelding' }).click();
      assert.match(pathOf(page), /^\/transitions\/[0-9a-f-]{36}\/feedback$/);
      assert.ok(await page.getByRole('columnheader', { name: 'Jeres vurdering' }).isVisible());
      assert.ok(await page.getByRole('columnheader', { name: 'Modtagerens vurdering' }).isVisible());
      assert.ok(await page.getByText('Hvordan hun bedst falder til ro efter frikvarteret.').isVisible());
      await checkA11y(page, 'feedback-sender');
      await shot(page, 'feedback-sender');
      assertNoPageErrors(page);
    });
  });
});
