// voicetune for VS Code: starts `voicetune lsp` on JSONL datasets and markdown drafts.
// Diagnostics, quick fixes, hover, code lenses, `$/progress` (with cancel) and inline completions
// (ghost text) all come from vscode-languageclient; this file adds what the library does not:
// the settings overlay, the API key, fix on save and the modal cost prompt. The palette
// commands are in commands.ts, the status bar in status.ts.
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  CodeActionRequest,
  LanguageClient,
  LanguageClientOptions,
  MessageActionItem,
  ServerOptions,
  ShowMessageRequest,
  ShowMessageRequestParams,
} from 'vscode-languageclient/node';
import { registerCommands } from './commands';
import { showServerProgress } from './progress';
import { StatusBar } from './status';

/** Where the OpenAI key is kept in SecretStorage (never in settings). */
export const API_KEY_SECRET = 'voicetune.openaiApiKey';
const API_KEY_ENV = 'OPENAI_API_KEY';

/** What the commands and the status bar share. */
export interface Voicetune {
  context: vscode.ExtensionContext;
  client(): LanguageClient | undefined;
  restart(): Promise<void>;
  status: StatusBar;
  /** Progress tokens of the local trainings started from this window, by voice name. */
  training: Map<string, string | number>;
}

let client: LanguageClient | undefined;

/** The server binary: the setting, else the one bundled in the extension, else `voicetune` on PATH. */
export function serverPath(context: vscode.ExtensionContext): string {
  const configured = vscode.workspace.getConfiguration('voicetune').get<string>('server.path', '');
  if (configured) {
    return configured;
  }
  const bundled = context.asAbsolutePath(path.join('server', 'voicetune'));
  if (!fs.existsSync(bundled)) {
    return 'voicetune';
  }
  try {
    // Some ways of unpacking a .vsix drop the executable bit.
    fs.accessSync(bundled, fs.constants.X_OK);
  } catch {
    fs.chmodSync(bundled, 0o755);
  }
  return bundled;
}

/** The editor's settings as a `voicetune.toml` overlay: only what the person set. */
export function settingsOverlay(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration('voicetune');
  const overlay: Record<string, unknown> = {};
  const targetModel = config.get<string>('targetModel', '');
  if (targetModel) {
    overlay.target_model = targetModel;
  }
  const provider = config.get<string>('provider', '');
  if (provider) {
    overlay.provider = provider;
  }
  const voice = config.get<string>('voice', '');
  if (voice) {
    overlay.voice = voice;
  }
  const lint: Record<string, unknown> = {};
  const select = config.get<string[]>('lint.select', []);
  if (select.length > 0) {
    lint.select = select;
  }
  const ignore = config.get<string[]>('lint.ignore', []);
  if (ignore.length > 0) {
    lint.ignore = ignore;
  }
  if (Object.keys(lint).length > 0) {
    overlay.lint = lint;
  }
  if (config.get<boolean>('completion.learn', false)) {
    overlay.completion = { learn: true };
  }
  const remoteModel = config.get<string>('remote.model', '');
  if (remoteModel) {
    overlay.remote = { model: remoteModel };
  }
  return overlay;
}

/** The environment of the server: the window's, plus the key from SecretStorage when the
 * environment has none. */
async function serverEnv(context: vscode.ExtensionContext): Promise<NodeJS.ProcessEnv> {
  const env = { ...process.env };
  if (!env[API_KEY_ENV]) {
    const key = await context.secrets.get(API_KEY_SECRET);
    if (key) {
      env[API_KEY_ENV] = key;
    }
  }
  return env;
}

async function startClient(
  context: vscode.ExtensionContext,
  output: vscode.LogOutputChannel,
  onProgress: () => void,
): Promise<LanguageClient> {
  const command = serverPath(context);
  const run = {
    command,
    // No `transport`: TransportKind.stdio would add a --stdio argument; stdio is the default.
    args: ['lsp'],
    options: { env: await serverEnv(context) },
  };
  const serverOptions: ServerOptions = { run, debug: run };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: 'file', language: 'jsonl' },
      { scheme: 'file', language: 'markdown' },
    ],
    initializationOptions: { voicetune: settingsOverlay() },
    outputChannel: output,
  };
  const started = new LanguageClient('voicetune', 'voicetune', serverOptions, clientOptions);
  // The server asks before it spends money (the fine-tune's cost): a modal dialog, not a toast.
  started.onRequest(ShowMessageRequest.type, async (params: ShowMessageRequestParams) => {
    const items = (params.actions ?? []).map((action) => ({
      title: action.title,
      isCloseAffordance: action.title === 'Cancel',
    }));
    const chosen = await vscode.window.showInformationMessage(params.message, { modal: true }, ...items);
    return chosen ? ({ title: chosen.title } as MessageActionItem) : null;
  });
  try {
    await started.start();
  } catch (e) {
    void vscode.window.showErrorMessage(
      `voicetune: cannot start ${command} (${e}). Set voicetune.server.path to the voicetune binary.`,
    );
    throw e;
  }
  // After start: it replaces the library's own handler (status-bar progress without Cancel).
  context.subscriptions.push(showServerProgress(started, onProgress));
  return started;
}

/** Every safe fix of `document`, from the server's `source.fixAll.voicetune` code action. */
async function fixAllEdits(document: vscode.TextDocument): Promise<vscode.TextEdit[]> {
  const running = client;
  if (!running || !running.isRunning()) {
    return [];
  }
  const actions = await running.sendRequest(CodeActionRequest.type, {
    textDocument: { uri: document.uri.toString() },
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    context: { diagnostics: [], only: ['source.fixAll.voicetune'] },
  });
  const edits: vscode.TextEdit[] = [];
  for (const action of actions ?? []) {
    if ('edit' in action && action.edit) {
      const edit = await running.protocol2CodeConverter.asWorkspaceEdit(action.edit);
      edits.push(...edit.get(document.uri));
    }
  }
  return edits;
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('voicetune', { log: true });
  const status = new StatusBar();
  context.subscriptions.push(output, status);
  const voicetune: Voicetune = {
    context,
    client: () => client,
    restart: async () => {
      const old = client;
      client = undefined;
      await old?.stop();
      client = await startClient(context, output, refresh);
      await status.refresh(voicetune);
    },
    status,
    training: new Map(),
  };
  const refresh = () => void status.refresh(voicetune);
  registerCommands(voicetune);

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      if (e.affectsConfiguration('voicetune.server.path')) {
        await voicetune.restart();
      } else if (e.affectsConfiguration('voicetune') && client) {
        await client.sendNotification('workspace/didChangeConfiguration', {
          settings: { voicetune: settingsOverlay() },
        });
        await status.refresh(voicetune);
      }
    }),
    vscode.workspace.onWillSaveTextDocument((e) => {
      const wanted = vscode.workspace.getConfiguration('voicetune', e.document).get<boolean>('fixOnSave', false);
      if (wanted && (e.document.languageId === 'jsonl' || e.document.languageId === 'markdown')) {
        e.waitUntil(fixAllEdits(e.document));
      }
    }),
  );

  client = await startClient(context, output, refresh);
  status.start(voicetune);
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
