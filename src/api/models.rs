//! `/v1/models`: the model ids this proxy serves (the config's aliases merged over the built-in table, then the
//! profile ids the upstream lists that the table lacks, then the ids the model fallback has served, each with the
//! pattern and profile it went to), in OpenAI's shape, or in Anthropic's (`ModelInfo` pages with `has_more`,
//! `first_id`, `last_id`) when the request carries `anthropic-version` as the anthropic SDKs' `models.list()` /
//! `models.retrieve()` do.
//!
//! Only what at least one usable token can serve is listed: a token whose `profiles/v8` answer is known serves the
//! chat profiles it listed, one never asked (or whose every answer failed) the whole built-in table. When no token
//! is usable at the moment, the enabled ones count instead, so a passing outage does not empty the list (a request
//! then gets the 503 that says why).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::ApiError;
use super::auth::ClientAuth;
use crate::live::Live;
use crate::models::ModelTable;
use crate::models::catalog::Servable;
use crate::models::fallback::families;

/// A fixed `created` stamp: the upstream publishes none, and a constant keeps the list stable across restarts.
const CREATED: u64 = 1_735_689_600;
/// The same moment, as Anthropic writes it (`created_at`).
const CREATED_AT: &str = "2025-01-01T00:00:00Z";

/// Anthropic's page size: 20 unless asked, 1 to 1000.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1000;

/// One id the proxy serves.
struct Entry {
    id: String,
    profile: String,
    /// The fallback pattern that serves it, when it is not in the table.
    pattern: Option<String>,
}

/// What the tokens that count for the list can serve together (see the module doc).
fn servable(live: &Live) -> Servable {
    let pool = &live.pool;
    let slots = pool.slots();
    let usable: Vec<&str> = (0..slots.len())
        .filter(|&i| pool.is_usable(i))
        .map(|i| slots[i].fingerprint.as_str())
        .collect();
    let counted = match usable.is_empty() {
        false => usable,
        true => slots
            .iter()
            .filter(|s| s.config.enabled)
            .map(|s| s.fingerprint.as_str())
            .collect(),
    };
    if counted.is_empty() {
        return Servable {
            static_table: true,
            ..Servable::default()
        };
    }
    live.models.catalog().load().servable(counted)
}

/// Every id served, in list order: the table's aliases sorted, then the listed profile ids the table lacks, then
/// the ids the fallback served so far; each only when `servable` covers its profile.
fn entries(models: &ModelTable, servable: &Servable) -> Vec<Entry> {
    let serves = |profile: &str| servable.static_table || servable.listed.contains(profile);
    let mut list: Vec<Entry> = models
        .aliases()
        .filter(|(_, profile)| serves(profile))
        .map(|(alias, profile)| Entry {
            id: alias.to_owned(),
            profile: profile.to_owned(),
            pattern: None,
        })
        .collect();
    for id in &servable.listed {
        if models.as_map().contains_key(id) || models.as_map().values().any(|p| p == id) {
            continue;
        }
        list.push(Entry {
            id: id.clone(),
            profile: id.clone(),
            pattern: None,
        });
    }
    // Served before a reload made it an alias (or turned its pattern off): listed as it is served now.
    for served in models.fallback().served() {
        if models.as_map().contains_key(&served.model) || models.catalog().contains(&served.model) {
            continue;
        }
        if let Some(rule) = models
            .fallback()
            .rule_for(&served.model)
            .filter(|rule| serves(&rule.profile))
        {
            list.push(Entry {
                id: served.model,
                profile: rule.profile.clone(),
                pattern: Some(rule.pattern.clone()),
            });
        }
    }
    list
}

/// The entry for `id`, served by the table or by a fallback pattern (which a request naming it would use).
fn entry_for(models: &ModelTable, id: &str) -> Option<Entry> {
    let profile = models.peek(id)?;
    let in_table = models.as_map().contains_key(id) || models.as_map().values().any(|p| p == id);
    let pattern = match in_table || models.catalog().contains(id) {
        true => None,
        false => models.fallback().rule_for(id).map(|r| r.pattern.clone()),
    };
    Some(Entry {
        id: id.to_owned(),
        profile,
        pattern,
    })
}

fn owner(profile: &str) -> &str {
    profile.split('-').next().unwrap_or("jetbrains")
}

fn fallback_field(e: &Entry) -> Option<Value> {
    e.pattern
        .as_ref()
        .map(|pattern| json!({"pattern": pattern, "profile": e.profile}))
}

fn openai(e: &Entry) -> Value {
    let mut v =
        json!({"id": e.id, "object": "model", "created": CREATED, "owned_by": owner(&e.profile)});
    if let (Some(map), Some(fallback)) = (v.as_object_mut(), fallback_field(e)) {
        map.insert("fallback".into(), fallback);
    }
    v
}

/// Anthropic's `ModelInfo`. `line` comes from the family table (never guessed from the id); capabilities and token
/// limits are left out, since nothing reliable is known about them.
fn anthropic_info(e: &Entry) -> Value {
    let line = families()
        .iter()
        .find(|f| f.newest_first.contains(&e.profile))
        .and_then(|f| f.family.strip_prefix("claude-"))
        .filter(|line| matches!(*line, "opus" | "sonnet" | "haiku"));
    let display_name = match &e.pattern {
        Some(_) => format!("{} (served by {})", e.id, e.profile),
        None => e.id.clone(),
    };
    let mut v = json!({
        "type": "model",
        "id": e.id,
        "display_name": display_name,
        "created_at": CREATED_AT,
        "lifecycle": "active",
        "line": line,
    });
    if let (Some(map), Some(fallback)) = (v.as_object_mut(), fallback_field(e)) {
        map.insert("fallback".into(), fallback);
    }
    v
}

fn wants_anthropic(headers: &HeaderMap) -> bool {
    headers.contains_key("anthropic-version")
}

/// Answers in the face's error shape: a client that reads Anthropic pages reads Anthropic errors.
fn fail(err: ApiError, anthropic: bool) -> Response {
    match anthropic {
        true => err.into_anthropic_response(),
        false => err.into_response(),
    }
}

pub async fn list(
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    auth: Result<ClientAuth, ApiError>,
) -> Response {
    let anthropic = wants_anthropic(&headers);
    let live = match auth {
        Ok(ClientAuth(live)) => live,
        Err(err) => return fail(err, anthropic),
    };
    let all = entries(&live.models, &servable(&live));
    if !anthropic {
        let data: Vec<Value> = all.iter().map(openai).collect();
        let patterns: Vec<Value> = live
            .models
            .fallback()
            .rules()
            .iter()
            .map(|r| json!({"pattern": r.pattern, "profile": r.profile}))
            .collect();
        return Json(json!({"object": "list", "data": data, "model_fallback": patterns}))
            .into_response();
    }
    match page(&all, &query) {
        Ok((range, has_more)) => {
            let data: Vec<Value> = all[range].iter().map(anthropic_info).collect();
            let first = data.first().map(|m| m["id"].clone()).unwrap_or(Value::Null);
            let last = data.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
            Json(json!({"data": data, "has_more": has_more, "first_id": first, "last_id": last}))
                .into_response()
        }
        Err(err) => fail(err, true),
    }
}

/// The slice of `all` one Anthropic page shows (`limit`, `after_id`, `before_id`), and whether more lie beyond it
/// in the direction of paging.
fn page(
    all: &[Entry],
    query: &HashMap<String, String>,
) -> Result<(std::ops::Range<usize>, bool), ApiError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "limit: {text:?} is not a number from 1 to {MAX_LIMIT}"
                ))
                .param("limit")
            })?,
    };
    let position = |key: &str, id: &str| {
        all.iter().position(|e| e.id == id).ok_or_else(|| {
            ApiError::bad_request(format!("{key}: no model `{id}` in the list")).param(key)
        })
    };
    match (query.get("after_id"), query.get("before_id")) {
        (Some(_), Some(_)) => Err(ApiError::bad_request(
            "give after_id or before_id, not both",
        )),
        (None, Some(before)) => {
            let end = position("before_id", before)?;
            let start = end.saturating_sub(limit);
            Ok((start..end, start > 0))
        }
        (after, None) => {
            let start = match after {
                Some(after) => position("after_id", after)? + 1,
                None => 0,
            };
            let end = (start + limit).min(all.len());
            Ok((start..end, end < all.len()))
        }
    }
}

pub async fn one(
    headers: HeaderMap,
    Path(id): Path<String>,
    auth: Result<ClientAuth, ApiError>,
) -> Response {
    let anthropic = wants_anthropic(&headers);
    let live = match auth {
        Ok(ClientAuth(live)) => live,
        Err(err) => return fail(err, anthropic),
    };
    match (entry_for(&live.models, &id), anthropic) {
        (Some(e), true) => Json(anthropic_info(&e)).into_response(),
        (Some(e), false) => Json(openai(&e)).into_response(),
        (None, _) => fail(ApiError::model_not_found(&id), anthropic),
    }
}
