// Notification message templates for Grafana's contact points: one template group per file under
// templates/, named by its key here. Contact points in tracklog.yaml refer to the names the groups
// define (`{{ define "tracklog.title" }}`) under `templates:`; validate checks those names exist.
{
  grafanaTemplates+:: {
    tracklog: importstr 'templates/tracklog.tmpl',
  },
}
