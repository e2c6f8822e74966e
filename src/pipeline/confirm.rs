//! Jira's word that an issue named by mail or a webhook belongs to the mirror.
//!
//! A mail or webhook delivery can name any key (anyone who can send mail to the mailbox can
//! forge one), so an issue the mirror does not hold yet is saved only when the scope search
//! lists it: `(<scope>) AND id in (…)` with the ids in `reconcileIssues`, so an issue
//! created a moment ago is found although the search index lags. A burst of notifications
//! about new issues needs many such answers at once, so they are batched: one task gathers
//! the ids workers ask about for a few milliseconds and asks for up to 50 in one search.
//! The [`Scope`]'s project pre-filter comes first and costs no request.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::jira::{self, JiraClient, MAX_RECONCILE_IDS};
use crate::scope::Scope;

/// How long the batching task waits for more ids after the first one.
const GATHER: Duration = Duration::from_millis(15);

/// One question to the batching task; `None` in the answer: ask alone.
type Answer = Option<Result<bool, jira::Error>>;

struct Ask {
    id: i64,
    reply: oneshot::Sender<Answer>,
}

/// Confirms issues in the scope, batching concurrent questions.
#[derive(Debug)]
pub(crate) struct Confirmer {
    jira: JiraClient,
    scope: Arc<Scope>,
    asks: OnceLock<mpsc::UnboundedSender<Ask>>,
}

impl std::fmt::Debug for Ask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ask").field("id", &self.id).finish()
    }
}

impl Confirmer {
    pub(crate) fn new(jira: JiraClient, scope: Scope) -> Self {
        Confirmer {
            jira,
            scope: Arc::new(scope),
            asks: OnceLock::new(),
        }
    }

    pub(crate) fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Whether the issue with id `id` is in the scope, by Jira's search.
    pub(crate) async fn in_scope(&self, id: i64) -> Result<bool, jira::Error> {
        let asks = self.asks.get_or_init(|| {
            let (tx, rx) = mpsc::unbounded_channel();
            tokio::spawn(gather(self.jira.clone(), self.scope.clone(), rx));
            tx
        });
        let (reply, answer) = oneshot::channel();
        if asks.send(Ask { id, reply }).is_ok()
            && let Ok(Some(answer)) = answer.await
        {
            return answer;
        }
        // The batch failed for an answer about one of its ids (or the task is gone): alone.
        Ok(self
            .jira
            .ids_in_scope(self.scope.jql(), &[id])
            .await?
            .contains(&id))
    }
}

/// The batching task: until every [`Confirmer`] handle is gone, takes the first question,
/// gathers more for [`GATHER`] (up to 50), asks Jira once and answers each.
async fn gather(jira: JiraClient, scope: Arc<Scope>, mut asks: mpsc::UnboundedReceiver<Ask>) {
    while let Some(first) = asks.recv().await {
        let mut batch = vec![first];
        let until = tokio::time::Instant::now() + GATHER;
        while batch.len() < MAX_RECONCILE_IDS {
            match tokio::time::timeout_at(until, asks.recv()).await {
                Ok(Some(ask)) => batch.push(ask),
                Ok(None) | Err(_) => break,
            }
        }
        let ids: Vec<i64> = batch
            .iter()
            .map(|a| a.id)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let found = jira.ids_in_scope(scope.jql(), &ids).await;
        for ask in batch {
            let answer = match &found {
                Ok(found) => Some(Ok(found.contains(&ask.id))),
                // One bad id (deleted meanwhile: Jira refuses the whole query) must not
                // fail the others: each asks alone.
                Err(e) if ids.len() > 1 && e.is_item_refusal() => None,
                Err(e) => Some(Err(e.clone())),
            };
            let _ = ask.reply.send(answer);
        }
    }
}
