// Keeps the recipe table of docs/recipes.md equal to its rendering from src/config/recipes.ts.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { RECIPES } from '../../src/config/recipes.ts';
import { RECIPES_DOC, renderRecipeTable, withRecipeTable } from '../../tools/render-recipes-doc.ts';

test('docs/recipes.md holds the recipe table rendered from src/config/recipes.ts', () => {
  const doc = readFileSync(RECIPES_DOC, 'utf8');
  const expected = withRecipeTable(doc, renderRecipeTable());
  if (process.env['UPDATE_GOLDEN'] === '1') {
    writeFileSync(RECIPES_DOC, expected);
    return;
  }
  assert.equal(doc, expected, 'docs/recipes.md differs from the recipes (rerun with UPDATE_GOLDEN=1, or run node tools/render-recipes-doc.ts, and review the diff)');
});

test('the rendered table has one row and one note per recipe, with its title', () => {
  const table = renderRecipeTable();
  for (const [name, recipe] of Object.entries(RECIPES)) {
    assert.ok(table.includes(`| \`${name}\` | ${recipe.title.replaceAll('<', '&lt;').replaceAll('>', '&gt;')} |`), `no row for recipe ${name}`);
    assert.ok(table.includes(`- \`${name}\`: `), `no notes for recipe ${name}`);
  }
});

test('a doc without the markers is refused with a sentence naming them', () => {
  assert.throws(() => withRecipeTable('# Recipes\n', 'table'), /lacks the markers/);
});
