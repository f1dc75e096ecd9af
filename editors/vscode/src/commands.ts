// The palette commands: each server command (`workspace/executeCommand`) with the UI it needs.
// The server's own command ids (voicetune.fixAll, ...) are registered by vscode-languageclient
// for code lenses and inline suggestions, so the palette's ids are voicetune.palette.*.
import * as path from 'path';
import * as vscode from 'vscode';
import { ExecuteCommandRequest, WorkDoneProgressCancelNotification } from 'vscode-languageclient/node';
import { API_KEY_SECRET, Voicetune } from './extension';

/** A job as `voicetune.jobs` lists it (`.voicetune/jobs/<id>.json`). */
export interface Job {
  id: string;
  kind: 'local' | 'remote';
  /** Who runs a remote job; absent in records written before Together (OpenAI). */
  provider?: 'openai' | 'together';
  status: 'validating' | 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  model: string;
  voice?: string | null;
  result_model?: string | null;
  error?: string | null;
  progress?: { step?: number | null; total_steps?: number | null; train_loss?: number | null };
  log?: { message: string }[];
}

export function isRunning(job: Job): boolean {
  return !['succeeded', 'failed', 'cancelled'].includes(job.status);
}

export function percent(job: Job): number | undefined {
  const p = job.progress;
  return p?.step != null && p.total_steps ? Math.min(100, Math.floor((p.step * 100) / p.total_steps)) : undefined;
}

export function describeJob(job: Job): string {
  const runner = job.kind === 'remote' ? (job.provider ?? 'openai') : job.kind;
  const parts: string[] = [runner, job.status];
  const p = job.progress;
  if (p?.step != null && p.total_steps) {
    parts.push(`step ${p.step}/${p.total_steps}`);
  }
  if (p?.train_loss != null) {
    parts.push(`loss ${p.train_loss.toFixed(3)}`);
  }
  if (job.voice) {
    parts.push(`voice ${job.voice}`);
  }
  return parts.join(' · ');
}

/** Runs a server command; errors are shown and give undefined. */
export async function execute<T>(vt: Voicetune, command: string, args: unknown[]): Promise<T | undefined> {
  const client = vt.client();
  if (!client || !client.isRunning()) {
    void vscode.window.showWarningMessage('voicetune: the server is not running (open a .jsonl dataset or a markdown draft)');
    return undefined;
  }
  try {
    return (await client.sendRequest(ExecuteCommandRequest.type, { command, arguments: args })) as T;
  } catch (e) {
    void vscode.window.showErrorMessage(`voicetune: ${e instanceof Error ? e.message : String(e)}`);
    return undefined;
  }
}

export async function listJobs(vt: Voicetune): Promise<Job[]> {
  return (await execute<Job[]>(vt, 'voicetune.jobs', [])) ?? [];
}

/** The document a command is about: the active editor's, or one the person picks. */
async function pickDataset(title: string): Promise<vscode.Uri | undefined> {
  const active = vscode.window.activeTextEditor?.document;
  if (active && active.languageId === 'jsonl' && active.uri.scheme === 'file') {
    if (active.isDirty) {
      await active.save();
    }
    return active.uri;
  }
  const picked = await vscode.window.showOpenDialog({
    title,
    canSelectMany: false,
    filters: { 'JSON Lines': ['jsonl', 'ndjson'] },
    defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
  });
  return picked?.[0];
}

async function cancelJob(vt: Voicetune, job: Job): Promise<void> {
  // A local training started from this window: cancel its progress, which ends it here too.
  const token = job.kind === 'local' && job.voice ? vt.training.get(job.voice) : undefined;
  const client = vt.client();
  if (token !== undefined && client) {
    await client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    void vscode.window.showInformationMessage(`voicetune: cancelling ${job.id}; it stops at its next step with a checkpoint`);
    return;
  }
  // A remote job, or a local one trained by another process (a terminal's `voicetune train`,
  // another window): the server asks it to stop at its next step, with a checkpoint.
  await execute(vt, 'voicetune.cancelJob', [job.id]);
}

/** Shows one job as VS Code progress until it ends; its Cancel button cancels the job. */
async function followJob(vt: Voicetune, first: Job): Promise<void> {
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `voicetune: job ${first.id}`, cancellable: isRunning(first) },
    async (progress, cancel) => {
      cancel.onCancellationRequested(() => void cancelJob(vt, first));
      let job: Job | undefined = first;
      let shown = 0;
      while (job) {
        const done = percent(job);
        progress.report({ message: describeJob(job), increment: done !== undefined ? done - shown : undefined });
        shown = done ?? shown;
        if (!isRunning(job)) {
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, 2000));
        job = (await listJobs(vt)).find((j) => j.id === first.id);
      }
      const last = job ?? first;
      const detail = last.result_model ? `: ${last.result_model}` : last.error ? `: ${last.error}` : '';
      void vscode.window.showInformationMessage(`voicetune: job ${last.id} ${last.status}${detail}`);
    },
  );
}

function jobItems(jobs: Job[]): (vscode.QuickPickItem & { job: Job })[] {
  return jobs.map((job) => ({
    label: job.id,
    description: describeJob(job),
    detail: job.log?.length ? job.log[job.log.length - 1].message : job.model,
    job,
  }));
}

export function registerCommands(vt: Voicetune): void {
  const register = (id: string, run: () => Promise<unknown>) =>
    vt.context.subscriptions.push(vscode.commands.registerCommand(id, run));

  register('voicetune.palette.fixAll', async () => {
    const document = vscode.window.activeTextEditor?.document;
    if (!document) {
      return;
    }
    await execute(vt, 'voicetune.fixAll', [document.uri.toString()]);
  });

  register('voicetune.palette.stats', async () => {
    const dataset = await pickDataset('Dataset to measure');
    if (dataset) {
      await vscode.window.showTextDocument(dataset, { preview: false });
      await execute(vt, 'voicetune.stats', [dataset.toString()]);
    }
  });

  register('voicetune.palette.buildDataset', async () => {
    const sources = await vscode.window.showOpenDialog({
      title: 'Sources: WordPress exports (XML, CSV), folders of markdown posts, transcripts',
      openLabel: 'Use as sources',
      canSelectFiles: true,
      canSelectFolders: true,
      canSelectMany: true,
      defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri,
    });
    if (!sources?.length) {
      return;
    }
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri ?? vscode.Uri.file(path.dirname(sources[0].fsPath));
    const output = await vscode.window.showSaveDialog({
      title: 'Write the dataset to',
      saveLabel: 'Build',
      defaultUri: vscode.Uri.joinPath(folder, 'train.jsonl'),
      filters: { 'JSON Lines': ['jsonl'] },
    });
    if (!output) {
      return;
    }
    await execute(vt, 'voicetune.buildDataset', [
      { sources: sources.map((s) => s.fsPath), output: output.fsPath, options: {} },
    ]);
  });

  register('voicetune.palette.trainLocal', async () => {
    const dataset = await pickDataset('Dataset to train on');
    if (!dataset) {
      return;
    }
    const name = await vscode.window.showInputBox({
      title: 'Train a voice locally',
      prompt: 'Name of the voice (it ghostwrites under this name)',
      value: path.basename(dataset.fsPath).replace(/\.(jsonl|ndjson)$/, ''),
      validateInput: (v) => (/^[\w.-]+$/.test(v) ? undefined : 'letters, digits, -, _ and . only'),
    });
    if (!name) {
      return;
    }
    const reply = await execute<{ started: boolean; name?: string; token?: string | number }>(
      vt,
      'voicetune.trainLocal',
      [dataset.toString(), { name }],
    );
    if (reply?.started && reply.token !== undefined) {
      vt.training.set(reply.name ?? name, reply.token);
      await vt.status.refresh(vt);
    }
  });

  register('voicetune.palette.tuneRemote', async () => {
    const dataset = await pickDataset('Dataset to fine-tune on');
    if (!dataset) {
      return;
    }
    if (!process.env.OPENAI_API_KEY && !(await vt.context.secrets.get(API_KEY_SECRET))) {
      const set = 'Set API key';
      const answer = await vscode.window.showWarningMessage('voicetune: fine-tuning on OpenAI needs an API key', set);
      if (answer !== set || !(await vscode.commands.executeCommand<boolean>('voicetune.palette.setApiKey'))) {
        return;
      }
    }
    const voice = await vscode.window.showInputBox({
      title: 'Fine-tune on OpenAI',
      prompt: 'Register the fine-tuned model as the voice (empty: do not register)',
      value: path.basename(dataset.fsPath).replace(/\.(jsonl|ndjson)$/, ''),
    });
    if (voice === undefined) {
      return;
    }
    // The server lints, estimates and asks (a modal with the cost) before it uploads anything.
    await execute(vt, 'voicetune.tuneRemote', [{ training: dataset.fsPath, ...(voice ? { voice } : {}) }]);
    await vt.status.refresh(vt);
  });

  register('voicetune.palette.jobs', async () => {
    const jobs = await listJobs(vt);
    if (jobs.length === 0) {
      void vscode.window.showInformationMessage('voicetune: no fine-tuning jobs in this workspace yet');
      return;
    }
    const picked = await vscode.window.showQuickPick(jobItems(jobs), {
      title: 'voicetune jobs (newest first): pick one to follow',
      matchOnDescription: true,
    });
    if (picked) {
      await followJob(vt, picked.job);
    }
  });

  register('voicetune.palette.cancelJob', async () => {
    const running = (await listJobs(vt)).filter(isRunning);
    if (running.length === 0) {
      void vscode.window.showInformationMessage('voicetune: no job is running');
      return;
    }
    const picked = await vscode.window.showQuickPick(jobItems(running), { title: 'Cancel which job?' });
    if (picked) {
      await cancelJob(vt, picked.job);
      await vt.status.refresh(vt);
    }
  });

  register('voicetune.palette.selectVoice', async () => {
    const listed = await execute<{
      voices: { name: string; kind: string; model: string }[];
      active: string | null;
    }>(vt, 'voicetune.selectVoice', []);
    if (!listed) {
      return;
    }
    const items = [
      { label: 'Base model', description: 'the local base model, no voice', name: null as string | null },
      ...listed.voices.map((v) => ({ label: v.name, description: `${v.kind} · ${v.model}`, name: v.name as string | null })),
    ].map((item) => ({ ...item, picked: item.name === listed.active, detail: item.name === listed.active ? 'active' : undefined }));
    const picked = await vscode.window.showQuickPick(items, { title: 'Ghostwrite with' });
    if (picked) {
      await execute(vt, 'voicetune.selectVoice', [picked.name]);
      await vt.status.refresh(vt);
    }
  });

  register('voicetune.palette.setApiKey', async () => {
    const key = await vscode.window.showInputBox({
      title: 'OpenAI API key',
      prompt: 'Kept in VS Code SecretStorage and passed to the server as OPENAI_API_KEY; empty removes it',
      password: true,
      ignoreFocusOut: true,
    });
    if (key === undefined) {
      return false;
    }
    if (key) {
      await vt.context.secrets.store(API_KEY_SECRET, key.trim());
    } else {
      await vt.context.secrets.delete(API_KEY_SECRET);
    }
    // The server reads the key from its environment: start it again with the new one.
    await vt.restart();
    return key !== '';
  });

  register('voicetune.palette.restart', () => vt.restart());
}
