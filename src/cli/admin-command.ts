/**
 * `loadnotify admin grant|revoke|list [email]`: who is an instance administrator. Run on the
 * server with the service's own environment (DATA_DIR or DATABASE_URL): having that access is
 * what entitles the operator to name administrators, so there is no API for it.
 */
import { loadConfig } from '../config.js';

const USAGE = `usage: loadnotify admin grant <email>    make the user an instance administrator
       loadnotify admin revoke <email>   take it back (schedules whose command they set are disabled)
       loadnotify admin list             list the instance administrators`;

export async function adminCommand(args: string[]): Promise<number> {
  const [action, email, ...extra] = args;
  const needsEmail = action === 'grant' || action === 'revoke';
  if (!(needsEmail || action === 'list') || (needsEmail ? !email || extra.length > 0 : email !== undefined)) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const config = loadConfig();
  const { openDatabase } = await import('../storage/database.js');
  const { instanceAdminEmails, setInstanceAdmin } = await import('../storage/users-repo.js');
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    if (action === 'list') {
      const admins = await instanceAdminEmails(db.kysely);
      process.stdout.write(admins.map((email) => `${email}\n`).join('') || '(no instance administrators)\n');
      return 0;
    }
    const grant = action === 'grant';
    const done = await db.kysely.transaction().execute((trx) => setInstanceAdmin(trx, email!, grant));
    if (!done) {
      process.stderr.write(`loadnotify: no user has the e-mail ${email}\n`);
      return 1;
    }
    const what = grant ? 'is now an instance administrator' : 'is no longer an instance administrator';
    const disabled =
      done.disabledSchedules > 0
        ? `; ${done.disabledSchedules} schedule(s) whose command they set were disabled`
        : '';
    process.stdout.write(`${email} ${what}${disabled}\n`);
    return 0;
  } finally {
    await db.close();
  }
}
