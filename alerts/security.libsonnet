// Security alerts from the security and audit logs (LogQL, for Loki's ruler or Grafana): repeated failed
// logins from one address, a staff or admin login from outside the allowed countries, a permission change on
// an admin role, and the spread-out attacks (credential stuffing, password spraying, a failure-ratio surge,
// a success after failures from several addresses): one alert per attack and env, labelled `attack` for routing.
local attacks = import 'attacks.libsonnet';
local q = import '../dashboards/lib/queries.libsonnet';
local rule = import 'rule.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local security = q.logTypeSel(c, 'security'),
  local audit = q.logTypeSel(c, 'audit'),
  local team = c.grafana.security_team,
  local a = c.security.attacks,
  local countryScope = c.security.detections.login_disallowed_country.populations,
  local byReason = 'Failed logins by reason',
  local attackRule(name, attack, query, summary, runbook, severity='critical', window=a.window, panel=byReason) =
    rule.new(c, name, 'loki', query, '>', 0)
    + rule.reads(['security'])
    + rule.withWindow(window)
    + rule.withTeam(team)
    + rule.withSeverity(severity)
    + rule.withLabels({ attack: attack })
    + rule.withSummary(summary)
    + rule.withRunbook(runbook)
    + rule.withDashboard('security', panel),

  alertGroups+:: {
    'tracklog-security': {
      datasource: 'loki',
      folderUid: c.grafana.security_folder_uid,  // with the security dashboards, open to security_team only
      rules: [
        rule.new(c,
                 'RepeatedFailedLogins',
                 'loki',
                 q.logins(c, security, 'failure', c.alertBy('client_address'), t.failed_logins_window),
                 '>',
                 t.failed_logins_per_ip)
        + rule.reads(['security'])
        + rule.withWindow(t.failed_logins_window)
        + rule.withTeam(team)
        + rule.withSummary('More than %s failed logins from {{ $labels.client_address }} within %s'
                           % [c.num(t.failed_logins_per_ip), t.failed_logins_window])
        + rule.withRunbook(|||
          One client address failed to log in more than %(n)s times within %(window)s: password guessing or
          credential stuffing, or a broken client.
          1. On Security, see the address's failed logins by user and reason, and whether any succeeded
             ("Success after failures").
          2. Block the address at the edge if it is not ours (allowed networks: %(networks)s).
          3. Reset the passwords of users it got into.
        ||| % {
          n: c.num(t.failed_logins_per_ip),
          window: t.failed_logins_window,
          networks: std.join(', ', c.security.allowed_networks),
        })
        + rule.withDashboard('security', 'Failed logins by source IP (top 10)'),

        rule.new(c,
                 'LoginFromUnexpectedCountry',
                 'loki',
                 q.loginsOutsideCountries(c, security + attacks.populationFilter(c, countryScope), c.alertRateWindow,
                                          c.alertBy('client_geo_country_iso_code, user_id, client_address')),
                 '>',
                 0)
        + rule.reads(['security'])
        + rule.withWindow(c.alertRateWindow)
        + rule.withTeam(team)
        + rule.withSummary('{{ $labels.user_id }} logged in from {{ $labels.client_geo_country_iso_code }}')
        + rule.withRunbook(|||
          A successful login of %(populations)s came from a country outside the allowed ones (%(countries)s).
          1. Ask the user whether it was them (travel, VPN).
          2. If not: end their sessions, reset their password, and check their recent audit log.
        ||| % { countries: std.join(', ', c.security.allowed_countries), populations: std.join(', ', countryScope) })
        + rule.withDashboard('security', 'Successful logins outside allowed countries'),

        rule.new(c,
                 'AdminPermissionChanged',
                 'loki',
                 q.adminPermissionChanges(c, audit, c.alertRateWindow, c.alertBy('auth_role, audit_actor, audit_target')),
                 '>',
                 0)
        + rule.reads(['audit'])
        + rule.withWindow(c.alertRateWindow)
        + rule.withTeam(team)
        + rule.withSummary('{{ $labels.audit_actor }} changed role {{ $labels.auth_role }} of {{ $labels.audit_target }}')
        + rule.withRunbook(|||
          A permission of an admin role (%(roles)s) changed. Every such change is reviewed.
          1. Confirm with the actor that the change was intended and approved.
          2. If not, revert it and investigate the actor's account (Security dashboard, audit log).
        ||| % { roles: std.join(', ', c.security.admin_roles) })
        + rule.withDashboard('security', 'Permission changes by role'),

        attackRule('CredentialStuffing', 'credential_stuffing', attacks.stuffing(c, security),
                   'Credential stuffing: failed logins for {{ $value }} accounts from many addresses within %s' % a.window,
                   |||
                     Within %(window)s, failed logins for at least %(accounts)s accounts from at least %(addresses)s
                     addresses, %(share)s or more of them for accounts that do not exist: a list of breached
                     e-mail/password pairs from another site, tried from a botnet (1-3 tries per address).
                     1. `tracklog audit detect --since 1h --env {{ $labels.env }}` lists the addresses, the
                        accounts and the accounts logged into from those addresses (credential_stuffing).
                     2. Turn on the login challenge (CAPTCHA, rate limit per account) at the edge.
                     3. Reset the passwords of accounts logged into from the attacking addresses.
                   ||| % { window: a.window, accounts: c.num(a.credential_stuffing.accounts),
                           addresses: c.num(a.credential_stuffing.addresses),
                           share: '%d%%' % std.round(a.credential_stuffing.unknown_user_share * 100) }),

        attackRule('PasswordSpraying', 'password_spraying', attacks.spraying(c, security),
                   'Password spraying: {{ $value }} accounts with a few bad passwords each within %s' % a.window,
                   |||
                     Within %(window)s, wrong passwords for at least %(accounts)s existing accounts with at most
                     %(tries)s tries each, from at least %(addresses)s addresses: a few common passwords tried
                     against many accounts, slowly enough to stay under any per-account lockout.
                     1. `tracklog audit detect --since 1h --env {{ $labels.env }}` (password_spraying) names the
                        accounts and addresses.
                     2. Require a second factor or a challenge for the targeted accounts; block the addresses.
                     3. Check for successful logins of those accounts from those addresses, and reset them.
                   ||| % { window: a.window, accounts: c.num(a.password_spraying.accounts),
                           tries: c.num(a.password_spraying.attempts_per_account),
                           addresses: c.num(a.password_spraying.addresses) }),

        attackRule('AuthFailureSurge', 'failure_surge', attacks.surge(c, security),
                   'Login failure ratio surged to {{ $value | humanizePercentage }} within %s' % a.window,
                   |||
                     Within %(window)s, at least %(ratio)s of all logins failed (at least %(failures)s failures),
                     more than %(factor)sx the failure ratio of the rest of the last %(baseline)s: the auth
                     service's own baseline. Not credential stuffing or password spraying (those page on their
                     own): a botnet guessing a few accounts, or a broken login (a client release, the user store).
                     1. `tracklog audit detect --since 1h --env {{ $labels.env }}` (failure_surge) lists the
                        addresses and accounts; few accounts from many addresses: protect those accounts.
                     2. One reason and no foreign addresses: check the auth service and the latest client release.
                   ||| % { window: a.window, ratio: '%d%%' % std.round(a.failure_surge.ratio * 100),
                           failures: c.num(a.failure_surge.failures), factor: c.num(a.failure_surge.factor),
                           baseline: a.failure_surge.baseline },
                   window=a.failure_surge.baseline),

        attackRule('LoginAfterSpreadFailures', 'spread_success_after_failures', attacks.spreadSuccess(c, security),
                   '{{ $labels.user_id }} logged in after failures from {{ $value }} addresses within %s' % a.window,
                   |||
                     Within %(window)s, one account had failed logins from at least %(addresses)s different
                     addresses and a successful one: its password was guessed by a distributed attack.
                     1. End the account's sessions and reset its password.
                     2. `tracklog audit detect --since 1h --env {{ $labels.env }}`
                        (spread_success_after_failures) names the addresses and the one that got in.
                   ||| % { window: a.window, addresses: c.num(a.spread_success_after_failures.addresses) },
                   panel='Failed logins by source IP (top %d)' % c.topN),
      ],
    },
  },
}
