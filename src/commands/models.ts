// models list | pull | start | stop: `apply --target models.X` with the model's state forced
// (present / loaded / unloaded), and a table of declared vs present vs loaded.
import type { Command } from 'commander';
import { UserError } from '../core/errors.js';
import type { Resource } from '../core/types.js';
import type { ModelSpec, ModelState } from '../reconcilers/models/index.js';
import { globals, parseDuration } from './common.js';

type Verb = 'pull' | 'start' | 'stop';

const FORCED: Record<Verb, ModelState> = { pull: 'present', start: 'loaded', stop: 'unloaded' };

function addressOf(name: string): string {
  return `models.${name.replace(/^models\./, '')}`;
}

/**
 * The session transform: pick the named models (all declared models when none are named), force their
 * state, and fill `targets` (read by the session right after the transform). Notes say when the manifest
 * disagrees, so the next apply undoing it is no surprise.
 */
export function forceModels(verb: Verb, names: string[], targets: string[], notes: string[]) {
  return (resources: Resource[]): Resource[] => {
    const declared = resources.filter((r) => r.section === 'models');
    const wanted = names.length ? names.map(addressOf) : declared.map((r) => r.address);
    if (!declared.length) throw new UserError('no models are declared in the manifest (models: or bundles:)');
    for (const a of wanted) {
      if (!declared.some((r) => r.address === a)) {
        throw new UserError(`${a} is not declared in the manifest (declared models: ${declared.map((r) => r.name).join(', ')})`);
      }
    }
    // start/stop load and unload Ollama models, and bring a model file's runtime up or down; a model
    // file without a runtime is left out, never downloaded.
    const runtimeOf = (a: string) => resources.find((r) => r.section === 'runtimes' && r.name === a.slice('models.'.length));
    const isFile = (a: string) => (declared.find((r) => r.address === a)!.spec as ModelSpec).provider !== 'ollama';
    if (verb !== 'pull' && names.length) {
      const file = wanted.find((a) => isFile(a) && !runtimeOf(a));
      if (file) throw new UserError(`${file} is a model file (provider: file) without a runtime; only Ollama models and models with runtime: whisper.cpp | llama.cpp | vllm | trt-llm can be started or stopped`);
    }
    const acted = verb === 'pull' ? wanted : wanted.flatMap((a) => (!isFile(a) ? [a] : runtimeOf(a) ? [runtimeOf(a)!.address] : []));
    if (!acted.length) throw new UserError(`models ${verb}: no Ollama models or runtimes are declared (model files are not loaded or unloaded)`);
    targets.push(...acted.filter((a) => !targets.includes(a)));
    const state = verb === 'pull' ? undefined : FORCED[verb];
    const out = resources.map((r) => {
        if (!acted.includes(r.address)) return r;
        if (r.section === 'runtimes') {
          const up = verb === 'start';
          const rs = r.spec as { state: 'up' | 'down' };
          if (!up && rs.state === 'up') notes.push(`Note: the manifest serves ${r.address.replace('runtimes.', 'models.')} with a runtime; the next \`pmoves mini apply\` (or watch) starts it again.`);
          return { ...r, spec: { ...rs, state: up ? 'up' : 'down' } };
        }
        const spec = r.spec as ModelSpec;
        const declaredState = spec.state;
        const target: ModelState = verb === 'pull' ? (declaredState === 'loaded' ? 'loaded' : 'present') : state!;
        if (verb === 'pull' && declaredState === 'absent') notes.push(`Note: the manifest declares ${r.address} with state: absent; the next \`pmoves mini apply\` will delete it again.`);
        if (verb === 'stop' && declaredState === 'loaded') notes.push(`Note: the manifest declares ${r.address} with state: loaded; the next \`pmoves mini apply\` (or watch) will load it again.`);
        if (verb === 'start' && declaredState !== 'loaded') notes.push(`Note: the manifest declares ${r.address} with state: ${declaredState}; it stays loaded for its keep_alive, and apply does not unload it.`);
        if (verb === 'pull' && declaredState === 'loaded') return r; // pulling a model declared loaded: keep loaded
        return { ...r, spec: { ...spec, state: target } as ModelSpec };
      });
    return out;
  };
}

const DESCRIPTIONS: Record<Verb, string> = {
  pull: 'pull / download models (all declared models, or the named ones): apply --target models.NAME',
  start: 'load Ollama models into memory (state: loaded, with their keep_alive); bring up the runtime of a model file (ready when its API answers)',
  stop: 'unload Ollama models from memory (keep_alive 0); bring down the runtime of a model file; nothing is deleted',
};

export function registerModels(mini: Command): void {
  const models = mini.command('models').description('models: list, pull, start (load) and stop (unload); bundles expand into models');

  models
    .command('list')
    .description('declared vs present vs loaded, with sizes (--json for scripts)')
    .option('--refresh-timeout <duration>', 'deadline for reading the models', parseDuration('--refresh-timeout'), 60_000)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      const g = globals(cmd);
      const { flowBase } = await import('./core.js');
      const { planOnce } = await import('../engine/run.js');
      const { modelRows, renderModelRows } = await import('./models-list.js');
      const targets: string[] = [];
      const notes: string[] = [];
      const p = await planOnce({ ...(await flowBase(g, o)), targets, transform: forceModelsForList(targets, notes), log: () => {} });
      const rows = modelRows(p);
      if (g.json) process.stdout.write(JSON.stringify({ models: rows, diagnostics: p.plan.diagnostics }, null, 2) + '\n');
      else process.stdout.write(renderModelRows(rows));
      process.exitCode = rows.some((r) => r.error) ? 1 : 0;
    });

  for (const verb of ['pull', 'start', 'stop'] as Verb[]) {
    models
      .command(`${verb} [names...]`)
      .description(DESCRIPTIONS[verb])
      .option('--auto-approve', 'do not ask for confirmation')
      .option('--lock-timeout <duration>', 'wait this long for another apply to finish', parseDuration('--lock-timeout'), 0)
      .option('--refresh-timeout <duration>', 'deadline for reading one resource', parseDuration('--refresh-timeout'), 60_000)
      .action(async (names: string[], o: Record<string, unknown>, cmd: Command) => {
        const g = globals(cmd);
        const { runApply } = await import('./core.js');
        const notes: string[] = [];
        const targets = names.map(addressOf);
        await runApply(g, { ...o, target: targets }, {
          command: `models ${verb}`,
          extra: { targets, transform: forceModels(verb, names, targets, notes) },
          notes,
        });
      });
  }
}

/** For `list`: only the models, all of them as targets; states untouched. */
function forceModelsForList(targets: string[], notes: string[]) {
  return (resources: Resource[]): Resource[] => {
    const mine = resources.filter((r) => r.section === 'models' || r.section === 'runtimes');
    targets.push(...mine.filter((r) => r.section === 'models').map((r) => r.address));
    targets.push(...mine.filter((r) => r.section === 'runtimes').map((r) => r.address));
    void notes;
    return mine;
  };
}
