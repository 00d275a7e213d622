// Agent tasks: tasks/<name>.yaml beside the manifest and in $PMOVES_HOME/tasks/ (the manifest's win).
// Read with positions (yaml-source.ts) and checked against schemas/task.schema.json, so every error
// names file:line:column. Returns values; never throws for bad input.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Home } from '../core/home.js';
import type { Diagnostic } from '../core/types.js';
import { validate } from '../manifest/schema.js';
import { displayPath, readYamlFile } from '../manifest/yaml-source.js';

export type PermissionLevel = 'read-only' | 'workspace' | 'privileged';

export interface Task {
  name: string;
  file: string;
  description: string;
  commands: string[];
  permission_level: PermissionLevel;
  expected_output?: string;
  /** Manifest mcp servers to hand over (the pmoves server is always handed over). */
  mcp: string[];
  /** Files (absolute) whose text goes into the prompt. */
  context: string[];
  constraints: string[];
  /** Where a key is, for errors found after loading (e.g. an mcp name the manifest lacks). */
  locate(p: (string | number)[]): string;
}

export interface TaskSet {
  tasks: Task[];
  diagnostics: Diagnostic[];
}

/** tasks/ beside the manifest, then $PMOVES_HOME/tasks/. */
export function taskDirs(manifestPath: string, home: Home): string[] {
  return [path.join(path.dirname(path.resolve(manifestPath)), 'tasks'), path.join(home.root, 'tasks')];
}

export const TASK_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

export async function loadTasks(dirs: string[]): Promise<TaskSet> {
  const tasks: Task[] = [];
  const diagnostics: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const dir of dirs) {
    let names: string[];
    try {
      names = (await fsp.readdir(dir)).filter((f) => /\.ya?ml$/.test(f)).sort();
    } catch {
      continue;
    }
    for (const f of names) {
      const name = f.replace(/\.ya?ml$/, '');
      if (seen.has(name)) continue; // the manifest's folder comes first and wins
      const r = await loadTaskFile(path.join(dir, f));
      diagnostics.push(...r.diagnostics);
      if (r.task) {
        seen.add(name);
        tasks.push(r.task);
      }
    }
  }
  return { tasks, diagnostics };
}

export async function loadTaskFile(file: string): Promise<{ task?: Task; diagnostics: Diagnostic[] }> {
  const read = await readYamlFile(file);
  const diagnostics = [...read.diagnostics];
  const source = read.source;
  if (!source || diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const name = path.basename(file).replace(/\.ya?ml$/, '');
  if (!TASK_NAME.test(name)) {
    return { diagnostics: [{ severity: 'error', summary: `invalid task name "${name}": expected letters, digits, "_" or "-" (the file name is the task's name)`, location: displayPath(file) }] };
  }
  const raw = source.doc.toJS({ maxAliasCount: 100 }) as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    return { diagnostics: [{ severity: 'error', summary: `expected a map with description and permission_level, got ${raw == null ? 'an empty document' : Array.isArray(raw) ? 'a list' : typeof raw}`, location: source.locate([]) }] };
  }
  diagnostics.push(...validate('task.schema.json', raw, source));
  if (diagnostics.some((d) => d.severity === 'error')) return { diagnostics };
  const d = raw as Record<string, unknown>;
  const dir = path.dirname(file);
  const context = ((d.context as string[] | undefined) ?? []).map((c) => path.resolve(dir, c));
  for (const [i, c] of context.entries()) {
    try {
      await fsp.access(c);
    } catch {
      diagnostics.push({ severity: 'error', summary: `context[${i}]: no such file ${displayPath(c)} (expected a file, relative to the task file)`, location: source.locate(['context', i]) });
    }
  }
  if (diagnostics.some((x) => x.severity === 'error')) return { diagnostics };
  return {
    diagnostics,
    task: {
      name,
      file,
      description: String(d.description).trim(),
      commands: (d.commands as string[] | undefined) ?? [],
      permission_level: d.permission_level as PermissionLevel,
      expected_output: typeof d.expected_output === 'string' ? d.expected_output.trim() : undefined,
      mcp: (d.mcp as string[] | undefined) ?? [],
      context,
      constraints: (d.constraints as string[] | undefined) ?? [],
      locate: (p) => source.locate(p),
    },
  };
}

/** The task named `name`, or a UserError-worthy message listing what exists. */
export async function findTask(name: string, dirs: string[]): Promise<{ task?: Task; diagnostics: Diagnostic[]; known: string[] }> {
  if (!TASK_NAME.test(name)) return { diagnostics: [{ severity: 'error', summary: `--task ${name}: expected a task name (letters, digits, "_", "-")` }], known: [] };
  for (const dir of dirs) {
    for (const ext of ['.yaml', '.yml']) {
      const file = path.join(dir, name + ext);
      try {
        await fsp.access(file);
      } catch {
        continue;
      }
      const r = await loadTaskFile(file);
      return { ...r, known: [] };
    }
  }
  const set = await loadTasks(dirs);
  return { diagnostics: [], known: set.tasks.map((t) => t.name) };
}
