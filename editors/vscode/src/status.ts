// The status bar: the voice that ghostwrites (click: choose another) and the running job, if
// any (click: the jobs). Refreshed after each command and every few seconds, so jobs started
// from a terminal (`voicetune train`, `voicetune tune`) show too.
import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';
import { describeJob, isRunning, Job, percent } from './commands';
import type { Voicetune } from './extension';

const REFRESH_MS = 5000;

export class StatusBar implements vscode.Disposable {
  private readonly voice = vscode.window.createStatusBarItem('voicetune.voice', vscode.StatusBarAlignment.Right, 100);
  private readonly job = vscode.window.createStatusBarItem('voicetune.job', vscode.StatusBarAlignment.Right, 99);
  private timer: NodeJS.Timeout | undefined;

  constructor() {
    this.voice.name = 'voicetune voice';
    this.voice.command = 'voicetune.palette.selectVoice';
    this.job.name = 'voicetune job';
    this.job.command = 'voicetune.palette.jobs';
  }

  start(vt: Voicetune): void {
    void this.refresh(vt);
    this.timer = setInterval(() => void this.refresh(vt), REFRESH_MS);
  }

  /** Asks the server (quietly: a stopped server hides the items). */
  async refresh(vt: Voicetune): Promise<void> {
    const client = vt.client();
    if (!client || !client.isRunning()) {
      this.voice.hide();
      this.job.hide();
      return;
    }
    try {
      const ask = (command: string) => client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [] });
      const voices = (await ask('voicetune.selectVoice')) as { active: string | null };
      this.voice.text = `$(feedback) ${voices.active ?? 'base model'}`;
      this.voice.tooltip = 'voicetune: the voice that ghostwrites (click to choose)';
      this.voice.show();
      const running = ((await ask('voicetune.jobs')) as Job[]).filter(isRunning);
      if (running.length > 0) {
        const first = running[0];
        const done = percent(first);
        this.job.text = `$(sync~spin) ${first.voice ?? first.id}${done !== undefined ? ` ${done}%` : ''}${running.length > 1 ? ` +${running.length - 1}` : ''}`;
        this.job.tooltip = running.map((j) => `${j.id}: ${describeJob(j)}`).join('\n');
        this.job.show();
      } else {
        this.job.hide();
      }
    } catch {
      // The server is starting or stopping; the next refresh will tell.
    }
  }

  dispose(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.voice.dispose();
    this.job.dispose();
  }
}
