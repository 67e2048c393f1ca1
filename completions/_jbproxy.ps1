
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'jbproxy' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'jbproxy'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'jbproxy' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--generate-config', '--generate-config', [CompletionResultType]::ParameterName, 'Same as the `generate-config` subcommand (the original jetbrains-ai-proxy''s spelling)')
            [CompletionResult]::new('--print-config', '--print-config', [CompletionResultType]::ParameterName, 'Same as the `print-config` subcommand (the original jetbrains-ai-proxy''s spelling)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the proxy server')
            [CompletionResult]::new('generate-config', 'generate-config', [CompletionResultType]::ParameterValue, 'Write a config file and .env.example (asks on a terminal)')
            [CompletionResult]::new('print-config', 'print-config', [CompletionResultType]::ParameterValue, 'Show the effective configuration, each value''s source, secrets redacted')
            [CompletionResult]::new('check-tokens', 'check-tokens', [CompletionResultType]::ParameterValue, 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates')
            [CompletionResult]::new('decode-jwt', 'decode-jwt', [CompletionResultType]::ParameterValue, 'Show a JWT''s header and claims (without verifying its signature)')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Show a running server''s token pool and counters (from its /stats endpoint)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jbproxy;serve' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)')
            [CompletionResult]::new('--jwt-tokens', '--jwt-tokens', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key clients must send as `Authorization: Bearer <key>`')
            [CompletionResult]::new('--bearer-token', '--bearer-token', [CompletionResultType]::ParameterName, 'The key clients must send as `Authorization: Bearer <key>`')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Load balance strategy')
            [CompletionResult]::new('--strategy', '--strategy', [CompletionResultType]::ParameterName, 'Load balance strategy')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--upstream-url', '--upstream-url', [CompletionResultType]::ParameterName, 'Base URL of the JetBrains AI API')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log format: text for people, json for log collectors (level via RUST_LOG)')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--demo', '--demo', [CompletionResultType]::ParameterName, 'Run against a built-in fake JetBrains AI with demo tokens: no JWT needed')
            break
        }
        'jbproxy;generate-config' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the config file [default: the global --config FILE, else config/config.json]')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the config file [default: the global --config FILE, else config/config.json]')
            [CompletionResult]::new('--env-output', '--env-output', [CompletionResultType]::ParameterName, 'Where to write the environment example')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Overwrite existing files')
            [CompletionResult]::new('--non-interactive', '--non-interactive', [CompletionResultType]::ParameterName, 'Write the example config without asking questions, even on a terminal')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'jbproxy;print-config' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)')
            [CompletionResult]::new('--jwt-tokens', '--jwt-tokens', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'The key clients must send as `Authorization: Bearer <key>`')
            [CompletionResult]::new('--bearer-token', '--bearer-token', [CompletionResultType]::ParameterName, 'The key clients must send as `Authorization: Bearer <key>`')
            [CompletionResult]::new('-s', '-s', [CompletionResultType]::ParameterName, 'Load balance strategy')
            [CompletionResult]::new('--strategy', '--strategy', [CompletionResultType]::ParameterName, 'Load balance strategy')
            [CompletionResult]::new('-p', '-p', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Port to listen on (0 picks a free one)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'Address to listen on')
            [CompletionResult]::new('--upstream-url', '--upstream-url', [CompletionResultType]::ParameterName, 'Base URL of the JetBrains AI API')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'One JSON object: the config file''s keys with their effective values, plus `sources`')
            break
        }
        'jbproxy;check-tokens' {
            [CompletionResult]::new('-c', '-c', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file''s and the environment''s)')
            [CompletionResult]::new('--jwt-tokens', '--jwt-tokens', [CompletionResultType]::ParameterName, 'JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file''s and the environment''s)')
            [CompletionResult]::new('--upstream-url', '--upstream-url', [CompletionResultType]::ParameterName, 'Base URL of the JetBrains AI API, for --online (as `serve --upstream-url`)')
            [CompletionResult]::new('--warn-within', '--warn-within', [CompletionResultType]::ParameterName, 'Fail a token that expires within this time (e.g. 30m, 48h, 7d)')
            [CompletionResult]::new('--min-healthy', '--min-healthy', [CompletionResultType]::ParameterName, 'Succeed when at least N tokens are healthy, even if others fail')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the results as JSON')
            [CompletionResult]::new('--online', '--online', [CompletionResultType]::ParameterName, 'Also ask JetBrains AI''s quota endpoint whether each JWT is accepted and how much quota is left (costs no quota)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'jbproxy;decode-jwt' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'Decode the configured token with this name instead')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print header and claims as JSON')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'jbproxy;stats' {
            [CompletionResult]::new('--url', '--url', [CompletionResultType]::ParameterName, 'The running server, as a URL or HOST:PORT (default: from the config''s host and port)')
            [CompletionResult]::new('-k', '-k', [CompletionResultType]::ParameterName, 'Admin key (default: the config''s admin_token, else its bearer_token)')
            [CompletionResult]::new('--token', '--token', [CompletionResultType]::ParameterName, 'Admin key (default: the config''s admin_token, else its bearer_token)')
            [CompletionResult]::new('--bearer-token', '--bearer-token', [CompletionResultType]::ParameterName, 'Admin key (default: the config''s admin_token, else its bearer_token)')
            [CompletionResult]::new('--watch', '--watch', [CompletionResultType]::ParameterName, 'Refresh every INTERVAL (seconds, or e.g. 500ms, 5s; default 2s) until Ctrl-C')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print the raw /stats JSON')
            [CompletionResult]::new('--cluster', '--cluster', [CompletionResultType]::ParameterName, 'Show every replica sharing the pool''s state through Redis, and the tokens merged over them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'jbproxy;completions' {
            [CompletionResult]::new('--out-dir', '--out-dir', [CompletionResultType]::ParameterName, 'Write the script into this directory instead of standard output')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Read the configuration from FILE instead of searching for it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'jbproxy;help' {
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the proxy server')
            [CompletionResult]::new('generate-config', 'generate-config', [CompletionResultType]::ParameterValue, 'Write a config file and .env.example (asks on a terminal)')
            [CompletionResult]::new('print-config', 'print-config', [CompletionResultType]::ParameterValue, 'Show the effective configuration, each value''s source, secrets redacted')
            [CompletionResult]::new('check-tokens', 'check-tokens', [CompletionResultType]::ParameterValue, 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates')
            [CompletionResult]::new('decode-jwt', 'decode-jwt', [CompletionResultType]::ParameterValue, 'Show a JWT''s header and claims (without verifying its signature)')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Show a running server''s token pool and counters (from its /stats endpoint)')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'jbproxy;help;serve' {
            break
        }
        'jbproxy;help;generate-config' {
            break
        }
        'jbproxy;help;print-config' {
            break
        }
        'jbproxy;help;check-tokens' {
            break
        }
        'jbproxy;help;decode-jwt' {
            break
        }
        'jbproxy;help;stats' {
            break
        }
        'jbproxy;help;completions' {
            break
        }
        'jbproxy;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
