// Security alerts from the security and audit logs (LogQL, for Loki's ruler or Grafana): repeated failed
// logins from one address, a login from outside the allowed countries, a permission change on an admin role.
local q = import '../dashboards/lib/queries.libsonnet';
local rule = import 'rule.libsonnet';

{
  local c = $._config,
  local t = c.thresholds,
  local security = q.logTypeSel(c, 'security'),
  local audit = q.logTypeSel(c, 'audit'),
  local team = c.grafana.security_team,

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
                 q.loginsOutsideCountries(c, security, c.alertRateWindow, c.alertBy('client_geo_country_iso_code, user_id, client_address')),
                 '>',
                 0)
        + rule.withWindow(c.alertRateWindow)
        + rule.withTeam(team)
        + rule.withSummary('{{ $labels.user_id }} logged in from {{ $labels.client_geo_country_iso_code }}')
        + rule.withRunbook(|||
          A successful login came from a country outside the allowed ones (%(countries)s).
          1. Ask the user whether it was them (travel, VPN).
          2. If not: end their sessions, reset their password, and check their recent audit log.
        ||| % { countries: std.join(', ', c.security.allowed_countries) })
        + rule.withDashboard('security', 'Successful logins outside allowed countries'),

        rule.new(c,
                 'AdminPermissionChanged',
                 'loki',
                 q.adminPermissionChanges(c, audit, c.alertRateWindow, c.alertBy('auth_role, audit_actor, audit_target')),
                 '>',
                 0)
        + rule.withWindow(c.alertRateWindow)
        + rule.withTeam(team)
        + rule.withSummary('{{ $labels.audit_actor }} changed role {{ $labels.auth_role }} of {{ $labels.audit_target }}')
        + rule.withRunbook(|||
          A permission of an admin role (%(roles)s) changed. Every such change is reviewed.
          1. Confirm with the actor that the change was intended and approved.
          2. If not, revert it and investigate the actor's account (Security dashboard, audit log).
        ||| % { roles: std.join(', ', c.security.admin_roles) })
        + rule.withDashboard('security', 'Permission changes by role'),
      ],
    },
  },
}
