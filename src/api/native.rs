//! The native provider routes from the faces' side: whether a request goes native (its face's family is on in
//! `native_routes`, and its model's profile has a native id), and relaying it with the same failover, pool,
//! streaming and shutdown as every answer. A request that does not go native goes by v8 as before; in particular a
//! face never crosses to another family's route (an OpenAI client on a Claude model, the Responses face): that
//! translation is v8's.

use std::sync::Arc;
use std::time::Instant;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tokio_util::sync::CancellationToken;

use super::ApiError;
use super::relay::{self, Meta};
use crate::live::Live;
use crate::models::native::{Family, native_id};
use crate::translate::native::{NativeAnswer, NativeRequest, NativeWriter, peek_model};
use crate::upstream::request::GrazieRequest;

/// A request bound for a native route.
pub struct Native {
    family: Family,
    model: String,
    stream: bool,
    request: GrazieRequest,
}

/// The native route for this body on a face of `family`, or `None` to go by v8. A body that is not even a JSON
/// object with a model goes by v8 too, whose parser says precisely what is wrong.
pub fn route(live: &Live, bytes: &[u8], family: Family) -> Option<Native> {
    let on = match family {
        Family::Anthropic => live.config.native_routes.anthropic,
        Family::OpenAi => live.config.native_routes.openai,
    };
    if !on {
        return None;
    }
    // The model decides; the body is read whole only once it is known to go native.
    let peeked = peek_model(bytes)?;
    let (model_family, id) = native_id(live.models.profile_for(&peeked)?)?;
    if model_family != family {
        return None;
    }
    let req = NativeRequest::parse(bytes).ok()?;
    let model = req.model().to_owned();
    let stream = req.stream();
    let request = GrazieRequest::native(family, req.into_upstream(id, family));
    Some(Native {
        family,
        model,
        stream,
        request,
    })
}

/// Relays a native request: the stream's records as they come, or the whole answer.
pub async fn relay(
    live: &Arc<Live>,
    native: Native,
    started: Instant,
    drain: CancellationToken,
) -> Result<Response, ApiError> {
    let Native {
        family,
        model,
        stream,
        request,
    } = native;
    let meta = Meta { model, started };
    if stream {
        relay::stream(live, request, meta, NativeWriter::new(family), drain).await
    } else {
        let json = relay::collect(live, request, &meta, || NativeAnswer::new(family)).await?;
        Ok((StatusCode::OK, axum::Json(json)).into_response())
    }
}
