
use builtin;
use str;

set edit:completion:arg-completer[jbproxy] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'jbproxy'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'jbproxy'= {
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --generate-config 'Same as the `generate-config` subcommand (the original jetbrains-ai-proxy''s spelling)'
            cand --print-config 'Same as the `print-config` subcommand (the original jetbrains-ai-proxy''s spelling)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand serve 'Run the proxy server'
            cand generate-config 'Write a config file and .env.example (asks on a terminal)'
            cand print-config 'Show the effective configuration, each value''s source, secrets redacted'
            cand check-tokens 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates'
            cand decode-jwt 'Show a JWT''s header and claims (without verifying its signature)'
            cand stats 'Show a running server''s token pool and counters (from its /stats endpoint)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jbproxy;serve'= {
            cand -c 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)'
            cand --jwt-tokens 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)'
            cand -k 'The key clients must send as `Authorization: Bearer <key>`'
            cand --bearer-token 'The key clients must send as `Authorization: Bearer <key>`'
            cand -s 'Load balance strategy'
            cand --strategy 'Load balance strategy'
            cand -p 'Port to listen on (0 picks a free one)'
            cand --port 'Port to listen on (0 picks a free one)'
            cand -h 'Address to listen on'
            cand --host 'Address to listen on'
            cand --upstream-url 'Base URL of the JetBrains AI API'
            cand --log-format 'Log format: text for people, json for log collectors (level via RUST_LOG)'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --help 'Print help'
            cand --demo 'Run against a built-in fake JetBrains AI with demo tokens: no JWT needed'
        }
        &'jbproxy;generate-config'= {
            cand -o 'Where to write the config file [default: the global --config FILE, else config/config.json]'
            cand --output 'Where to write the config file [default: the global --config FILE, else config/config.json]'
            cand --env-output 'Where to write the environment example'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --force 'Overwrite existing files'
            cand --non-interactive 'Write the example config without asking questions, even on a terminal'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'jbproxy;print-config'= {
            cand -c 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)'
            cand --jwt-tokens 'JetBrains AI JWTs, comma-separated (replaces the file''s and the environment''s tokens)'
            cand -k 'The key clients must send as `Authorization: Bearer <key>`'
            cand --bearer-token 'The key clients must send as `Authorization: Bearer <key>`'
            cand -s 'Load balance strategy'
            cand --strategy 'Load balance strategy'
            cand -p 'Port to listen on (0 picks a free one)'
            cand --port 'Port to listen on (0 picks a free one)'
            cand -h 'Address to listen on'
            cand --host 'Address to listen on'
            cand --upstream-url 'Base URL of the JetBrains AI API'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --help 'Print help'
            cand --json 'One JSON object: the config file''s keys with their effective values, plus `sources`'
        }
        &'jbproxy;check-tokens'= {
            cand -c 'JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file''s and the environment''s)'
            cand --jwt-tokens 'JetBrains AI JWTs to check, comma-separated (as `serve -c`; replaces the file''s and the environment''s)'
            cand --upstream-url 'Base URL of the JetBrains AI API, for --online (as `serve --upstream-url`)'
            cand --warn-within 'Fail a token that expires within this time (e.g. 30m, 48h, 7d)'
            cand --min-healthy 'Succeed when at least N tokens are healthy, even if others fail'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --json 'Print the results as JSON'
            cand --online 'Also ask JetBrains AI''s quota endpoint whether each JWT is accepted and how much quota is left (costs no quota)'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'jbproxy;decode-jwt'= {
            cand --name 'Decode the configured token with this name instead'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --json 'Print header and claims as JSON'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'jbproxy;stats'= {
            cand --url 'The running server, as a URL or HOST:PORT (default: from the config''s host and port)'
            cand -k 'Admin key (default: the config''s admin_token, else its bearer_token)'
            cand --token 'Admin key (default: the config''s admin_token, else its bearer_token)'
            cand --bearer-token 'Admin key (default: the config''s admin_token, else its bearer_token)'
            cand --watch 'Refresh every INTERVAL (seconds, or e.g. 500ms, 5s; default 2s) until Ctrl-C'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand --json 'Print the raw /stats JSON'
            cand --cluster 'Show every replica sharing the pool''s state through Redis, and the tokens merged over them'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'jbproxy;completions'= {
            cand --out-dir 'Write the script into this directory instead of standard output'
            cand --config 'Read the configuration from FILE instead of searching for it'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'jbproxy;help'= {
            cand serve 'Run the proxy server'
            cand generate-config 'Write a config file and .env.example (asks on a terminal)'
            cand print-config 'Show the effective configuration, each value''s source, secrets redacted'
            cand check-tokens 'Check every configured token: well-formed, not expired, not expiring soon, no duplicates'
            cand decode-jwt 'Show a JWT''s header and claims (without verifying its signature)'
            cand stats 'Show a running server''s token pool and counters (from its /stats endpoint)'
            cand completions 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'jbproxy;help;serve'= {
        }
        &'jbproxy;help;generate-config'= {
        }
        &'jbproxy;help;print-config'= {
        }
        &'jbproxy;help;check-tokens'= {
        }
        &'jbproxy;help;decode-jwt'= {
        }
        &'jbproxy;help;stats'= {
        }
        &'jbproxy;help;completions'= {
        }
        &'jbproxy;help;help'= {
        }
    ]
    $completions[$command]
}
