// Render tests are tables: name → (change, expected text), colour off.
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Change } from '../src/core/types.js';
import { changeToJson, planToJson } from '../src/planner/render-json.js';
import { renderChange, renderPlan, style, summaryLine } from '../src/planner/render-text.js';
import { summarize, type Plan } from '../src/planner/plan.js';

const t = suite('render');
const s = style(false);
const base = { address: 'secrets.env', section: 'secrets', name: 'env' };

const table: [string, Change, string][] = [
  [
    'create shows every attribute with +, secrets masked',
    { ...base, action: 'create', reason: 'x does not exist', before: null, after: { env_file: '/x', keys: { A: { $sensitive: 'f1' } } } },
    `  # secrets.env will be created (because x does not exist)
  + secrets "env" {
      + env_file = "/x"
      + keys = {
          + A = (sensitive value)
        }
    }`,
  ],
  [
    'update hides unchanged attributes and shows old -> new',
    {
      ...base,
      action: 'update',
      reason: 'keys changed: B',
      before: { env_file: '/x', mode: '0644', keys: { A: { $sensitive: 'f1' }, B: { $sensitive: 'f2' }, C: { $sensitive: 'f3' } } },
      after: { env_file: '/x', mode: '0600', keys: { A: { $sensitive: 'f1' }, B: { $sensitive: 'f9' }, D: { $sensitive: 'f4' } } },
    },
    `  # secrets.env will be updated in-place (because keys changed: B)
  ~ secrets "env" {
      ~ mode = "0644" -> "0600"
      ~ keys = {
          ~ B = (sensitive value) -> (sensitive value)
          + D = (sensitive value)
          - C = (sensitive value)
            # (1 unchanged attribute hidden)
        }
        # (1 unchanged attribute hidden)
    }`,
  ],
  [
    'multi-line text is a unified diff',
    { address: 'mcp.x', section: 'mcp', name: 'x', action: 'update', reason: 'entry changed', before: { content: 'a\nb\nc\n' }, after: { content: 'a\nB\nc\n' } },
    `  # mcp.x will be updated in-place (because entry changed)
  ~ mcp "x" {
      ~ content = <<-EOT
          @@ -1,3 +1,3 @@
           a
          -b
          +B
           c
        EOT
    }`,
  ],
  [
    'delete and replace use their own symbols; origin and warnings are shown',
    { ...base, action: 'replace', reason: 'mode cannot change', before: { n: 1 }, after: { n: 2 }, origin: 'profile laptop-4090', warnings: ['volumes will be removed'] },
    `  # secrets.env will be replaced (because mode cannot change)
  # (from profile laptop-4090)
  # Warning: volumes will be removed
-/+ secrets "env" {
      ~ n = 1 -> 2
    }`,
  ],
  [
    'delete',
    { ...base, action: 'delete', reason: 'gone from the manifest', before: { env_file: '/x' }, after: null },
    `  # secrets.env will be destroyed (because gone from the manifest)
  - secrets "env" {
      - env_file = "/x"
    }`,
  ],
  [
    'parts render under their parent with their own verb',
    {
      address: 'stacks.core', section: 'stacks', name: 'core', action: 'update', reason: '1 service changed', before: null, after: null,
      parts: [{ address: 'stacks.core.db', section: 'stacks', name: 'core.db', action: 'replace', verb: 'recreated', reason: 'its config changed: image postgres:15 -> postgres:16', before: { image: 'postgres:15' }, after: { image: 'postgres:16' } }],
    },
    `  # stacks.core will be updated in-place (because 1 service changed)

    # stacks.core.db will be recreated (because its config changed: image postgres:15 -> postgres:16)
  -/+ stacks "core.db" {
        ~ image = "postgres:15" -> "postgres:16"
      }`,
  ],
];

for (const [name, change, expected] of table) {
  t(name, () => {
    assert.fixture(renderChange(change, s).join('\n'), expected);
  });
}

t('summary line', () => {
  assert.is(summaryLine({ add: 0, change: 0, destroy: 0, blocked: 0, unreadable: 0, conflict: 0 }), 'No changes. Actual state matches the manifest.');
  assert.is(summaryLine({ add: 1, change: 2, destroy: 3, blocked: 0, unreadable: 0, conflict: 0 }, ['Downloads: 1.0 GB.']), 'Plan: 1 to add, 2 to change, 3 to destroy. Downloads: 1.0 GB.');
  const changes = table.map((x) => x[1]);
  assert.equal(summarize(changes), { add: 2, change: 3, destroy: 2, blocked: 0, unreadable: 0, conflict: 0 });
});

t('JSON: values masked, patch keeps the path of a changed secret but not its value', () => {
  const j = changeToJson(table[1]![1]) as { before: { keys: Record<string, unknown> }; patch: { op: string; path: string; value?: unknown }[] };
  assert.is(j.before.keys.A, '(sensitive value)');
  assert.equal(j.patch, [
    { op: 'remove', path: '/keys/C' },
    { op: 'replace', path: '/keys/B', value: '(sensitive value)' },
    { op: 'add', path: '/keys/D', value: '(sensitive value)' },
    { op: 'replace', path: '/mode', value: '0600' },
  ]);
  assert.not.match(JSON.stringify(j), /f[0-9]/);
});

t('a whole plan with diagnostics', () => {
  const plan: Plan = {
    manifestDigest: 'abc',
    actualDigest: 'def',
    changes: [table[0]![1]],
    results: new Map(),
    diagnostics: [{ severity: 'error', address: 'secrets.env', summary: 'cannot be written: required label missing from the bundle: X', detail: 'nothing will be written' }],
    summary: { add: 1, change: 0, destroy: 0, blocked: 0, unreadable: 0, conflict: 0 },
    notes: ['Profile: generic-cpu (detected)'],
    summaryExtras: [],
  };
  const text = renderPlan(plan, s);
  assert.ok(text.startsWith('Profile: generic-cpu (detected)\n\npmoves mini will perform the following actions:\n'));
  assert.ok(text.includes('\n! secrets.env cannot be written: required label missing from the bundle: X\n    nothing will be written\n'));
  assert.ok(text.endsWith('Plan: 1 to add, 0 to change, 0 to destroy.\n'));
  const j = planToJson(plan) as Record<string, unknown>;
  assert.equal(Object.keys(j), ['format_version', 'manifest_digest', 'resource_changes', 'summary', 'notes', 'diagnostics']);
});

t.run();
