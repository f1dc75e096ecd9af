// The server's `$/progress` as VS Code progress. vscode-languageclient shows work-done progress
// in the status bar only (ProgressLocation.Window), where VS Code draws no Cancel button; long
// work (build, train, fine-tune, fix all) goes to a notification with Cancel instead, which
// sends `window/workDoneProgress/cancel`. Ghostwriting's per-suggestion progress stays in the
// status bar.
import * as vscode from 'vscode';
import {
  LanguageClient,
  ProgressToken,
  WorkDoneProgress,
  WorkDoneProgressBegin,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  WorkDoneProgressReport,
} from 'vscode-languageclient/node';

/** Replaces the client library's handler of `window/workDoneProgress/create`. */
export function showServerProgress(client: LanguageClient, onChange: () => void): vscode.Disposable {
  return client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => {
    follow(client, token, onChange);
  });
}

function follow(client: LanguageClient, token: ProgressToken, onChange: () => void): void {
  let progress: vscode.Progress<{ message?: string; increment?: number }> | undefined;
  let finish: (() => void) | undefined;
  let ended = false;
  let shown = 0;
  const report = (value: WorkDoneProgressBegin | WorkDoneProgressReport) => {
    const increment = value.percentage !== undefined ? Math.max(0, Math.min(100, value.percentage) - shown) : undefined;
    shown += increment ?? 0;
    progress?.report({ message: value.message, increment });
  };
  const subscription = client.onProgress(WorkDoneProgress.type, token, (value) => {
    if (value.kind === 'begin') {
      const quiet = /ghostwrit/i.test(value.title);
      void vscode.window.withProgress(
        {
          location: quiet ? vscode.ProgressLocation.Window : vscode.ProgressLocation.Notification,
          title: value.title,
          cancellable: value.cancellable === true,
        },
        (p, cancel) => {
          progress = p;
          cancel.onCancellationRequested(() => {
            void client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
          });
          report(value);
          return ended ? Promise.resolve() : new Promise<void>((resolve) => (finish = resolve));
        },
      );
      onChange();
    } else if (value.kind === 'report') {
      report(value);
    } else {
      ended = true;
      subscription.dispose();
      finish?.();
      onChange();
    }
  });
}
