# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_jbproxy_global_optspecs
    string join \n config= generate-config print-config h/help V/version
end

function __fish_jbproxy_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_jbproxy_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_jbproxy_using_subcommand
    set -l cmd (__fish_jbproxy_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c jbproxy -n "__fish_jbproxy_needs_command" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_needs_command" -l generate-config -d 'Same as the `generate-config` subcommand (the original jetbrains-ai-proxy\'s spelling)'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -l print-config -d 'Same as the `print-config` subcommand (the original jetbrains-ai-proxy\'s spelling)'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -s V -l version -d 'Print version'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "serve" -d 'Run the proxy server'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "generate-config" -d 'Write a config file and .env.example (asks on a terminal)'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "print-config" -d 'Show the effective configuration, each value\'s source, secrets redacted'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "check-tokens" -d 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "decode-jwt" -d 'Show a JWT\'s header and claims (without verifying its signature)'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "stats" -d 'Show a running server\'s token pool and counters (from its /stats endpoint)'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c jbproxy -n "__fish_jbproxy_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -s c -l jwt-tokens -d 'JetBrains AI JWTs, comma-separated (replaces the file\'s and the environment\'s tokens)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -s k -l bearer-token -d 'The key clients must send as `Authorization: Bearer <key>`' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -s s -l strategy -d 'Load balance strategy' -r -f -a "round_robin\t''
random\t''
weighted\t''
least_inflight\t''"
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -s p -l port -d 'Port to listen on (0 picks a free one)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -s h -l host -d 'Address to listen on' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -l upstream-url -d 'Base URL of the JetBrains AI API' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -l log-format -d 'Log format: text for people, json for log collectors (level via RUST_LOG)' -r -f -a "text\t''
json\t''"
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand serve" -l demo -d 'Run against a built-in fake JetBrains AI with demo tokens: no JWT needed'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -s o -l output -d 'Where to write the config file [default: the global --config FILE, else config/config.json]' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -l env-output -d 'Where to write the environment example' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -l force -d 'Overwrite existing files'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -l non-interactive -d 'Write the example config without asking questions, even on a terminal'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand generate-config" -s h -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -s c -l jwt-tokens -d 'JetBrains AI JWTs, comma-separated (replaces the file\'s and the environment\'s tokens)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -s k -l bearer-token -d 'The key clients must send as `Authorization: Bearer <key>`' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -s s -l strategy -d 'Load balance strategy' -r -f -a "round_robin\t''
random\t''
weighted\t''
least_inflight\t''"
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -s p -l port -d 'Port to listen on (0 picks a free one)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -s h -l host -d 'Address to listen on' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -l upstream-url -d 'Base URL of the JetBrains AI API' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand print-config" -l json -d 'One JSON object: the config file\'s keys with their effective values, plus `sources`'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -s c -l jwt-tokens -d 'JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file\'s and the environment\'s)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l upstream-url -d 'Base URL of the JetBrains AI API, for --online (as `serve --upstream-url`)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l warn-within -d 'Fail a token that expires within this time (e.g. 30m, 48h, 7d)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l min-healthy -d 'Succeed when at least N tokens are healthy, even if others fail' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l json -d 'Print the results as JSON'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -l online -d 'Also ask JetBrains AI\'s quota endpoint whether each JWT is accepted and how much quota is left (costs no quota)'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand check-tokens" -s h -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand decode-jwt" -l name -d 'Decode the configured token with this name instead' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand decode-jwt" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand decode-jwt" -l json -d 'Print header and claims as JSON'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand decode-jwt" -s h -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -l url -d 'The running server, as a URL or HOST:PORT (default: from the config\'s host and port)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -s k -l token -l bearer-token -d 'Admin key (default: the config\'s admin_token, else its bearer_token)' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -l watch -d 'Refresh every INTERVAL (seconds, or e.g. 500ms, 5s; default 2s) until Ctrl-C' -r
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -l json -d 'Print the raw /stats JSON'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -l cluster -d 'Show every replica sharing the pool\'s state through Redis, and the tokens merged over them'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand stats" -s h -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand completions" -l out-dir -d 'Write the script into this directory instead of standard output' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand completions" -l config -d 'Read the configuration from FILE instead of searching for it' -r -F
complete -c jbproxy -n "__fish_jbproxy_using_subcommand completions" -s h -l help -d 'Print help'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "serve" -d 'Run the proxy server'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "generate-config" -d 'Write a config file and .env.example (asks on a terminal)'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "print-config" -d 'Show the effective configuration, each value\'s source, secrets redacted'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "check-tokens" -d 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "decode-jwt" -d 'Show a JWT\'s header and claims (without verifying its signature)'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "stats" -d 'Show a running server\'s token pool and counters (from its /stats endpoint)'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c jbproxy -n "__fish_jbproxy_using_subcommand help; and not __fish_seen_subcommand_from serve generate-config print-config check-tokens decode-jwt stats completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
