// Every dashboard, with the house defaults stamped on last. Each file adds one entry to
// grafanaDashboards (file name -> dashboard); uids derive from the file names (lib/defaults.libsonnet).
(import 'api-health.libsonnet')
+ (import 'security.libsonnet')
+ (import 'system.libsonnet')
+ (import 'logs-retention.libsonnet')
+ (import 'troubleshooting.libsonnet')
+ (import 'tracking-page.libsonnet')
+ (import 'lib/defaults.libsonnet')
