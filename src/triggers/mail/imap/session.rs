//! The commands the mailbox trigger sends over one selected session: search, fetch, flag,
//! move, IDLE; and the mailbox state the server's unsolicited responses keep current.

use super::*;

/// An authenticated IMAP connection with the watched mailbox selected.
pub struct Session {
    /// `None` once the connection is unusable (see [`Error::Closed`]) or while idling.
    imap: Option<ImapSession>,
    server: String,
    mailbox: String,
    state: MailboxState,
    caps: Caps,
    timeout: Duration,
    /// `exists` as the last [`Session::candidates`] searched it (as `SELECT` reported it
    /// before any search), to notice mail reported after that search, by a later command or
    /// before the server accepted IDLE, which no IDLE would announce again.
    exists_at_search: u32,
}

pub(super) type ImapSession = async_imap::Session<Wire>;

/// The capabilities this client acts on.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Caps {
    idle: bool,
    moves: bool,
    uidplus: bool,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.server)
            .field("mailbox", &self.mailbox)
            .field("state", &self.state)
            .field("caps", &self.caps)
            .field("connected", &self.imap.is_some())
            .finish()
    }
}

impl Session {
    /// Connects (TCP, then implicit TLS, STARTTLS or nothing), logs in and selects the mailbox.
    ///
    /// `security = none` is refused unless the host is loopback and resolves only to loopback
    /// addresses. Certificates are checked against the system's CAs plus those in
    /// [`ImapSettings::ca_file`].
    pub async fn connect(settings: &ImapSettings) -> Result<Session, Error> {
        let server = settings.server();
        let plain = settings.security == ImapSecurity::None;
        if plain && !is_loopback_host(&settings.host) {
            return Err(Error::Insecure {
                host: settings.host.clone(),
            });
        }
        // Read the CA file before connecting, so a bad path is reported without network noise.
        let tls = if plain {
            None
        } else {
            Some(tls_connector(settings.ca_file.as_deref(), &server)?)
        };

        let tcp = open_tcp(settings, &server, plain).await?;
        let timed = Timed::new(tcp, settings.timeout);
        let wire = match (settings.security, tls) {
            (ImapSecurity::Tls, Some(tls)) => {
                let stream = handshake(&tls, settings, &server, timed).await?;
                Wire::new(Transport::Tls(Box::new(stream)))
            }
            (ImapSecurity::StartTls, Some(tls)) => {
                let mut client = async_imap::Client::new(Wire::new(Transport::Plain(timed)));
                greeting(&mut client, settings, &server).await?;
                if let Err(error) = client.run_command_and_check_ok("STARTTLS", None).await {
                    return Err(match error {
                        ImapError::No(m) | ImapError::Bad(m) => Error::Tls {
                            server,
                            message: format!("the server refused STARTTLS: {}", tidy(&m)),
                        },
                        other => classify(&server, "STARTTLS", other, settings.timeout),
                    });
                }
                // Anything the server sent after its OK is discarded with the plain stream: no
                // plaintext can be injected into the TLS session.
                let Transport::Plain(timed) = client.into_inner().transport else {
                    unreachable!("STARTTLS runs on the plain transport");
                };
                let stream = handshake(&tls, settings, &server, timed).await?;
                Wire::new(Transport::Tls(Box::new(stream)))
            }
            _ => Wire::new(Transport::Plain(timed)),
        };

        let mut client = async_imap::Client::new(wire);
        if settings.security != ImapSecurity::StartTls {
            greeting(&mut client, settings, &server).await?;
        }
        let mut imap = login(client, settings, &server).await?;

        let caps = match imap.capabilities().await {
            Ok(caps) => Caps::from(&caps),
            Err(error) => return Err(classify(&server, "CAPABILITY", error, settings.timeout)),
        };
        let selected = match imap.select(&settings.mailbox).await {
            Ok(mailbox) => mailbox,
            // e.g. no such mailbox
            Err(ImapError::No(m) | ImapError::Bad(m)) => {
                return Err(Error::Mailbox {
                    server,
                    mailbox: settings.mailbox.clone(),
                    message: tidy(&m),
                });
            }
            Err(ImapError::Validate(_)) => {
                return Err(Error::Mailbox {
                    server,
                    mailbox: settings.mailbox.clone(),
                    message: "the name contains a line break".to_owned(),
                });
            }
            Err(error) => return Err(classify(&server, "SELECT", error, settings.timeout)),
        };
        let Some(uid_validity) = selected.uid_validity else {
            return Err(Error::Protocol {
                server,
                command: "SELECT",
                message: "the server sent no UIDVALIDITY".to_owned(),
            });
        };
        let state = MailboxState {
            uid_validity,
            uid_next: selected.uid_next,
            exists: selected.exists,
        };
        debug!(
            server = %server,
            username = %settings.username,
            mailbox = %settings.mailbox,
            uid_validity,
            exists = state.exists,
            idle = caps.idle,
            "IMAP mailbox selected."
        );
        let mut session = Session {
            imap: Some(imap),
            server,
            mailbox: settings.mailbox.clone(),
            state,
            caps,
            timeout: settings.timeout,
            exists_at_search: state.exists,
        };
        session.absorb_unsolicited();
        Ok(session)
    }

    /// The selected mailbox: UIDVALIDITY, UIDNEXT at selection, current message count.
    pub fn mailbox(&self) -> &MailboxState {
        &self.state
    }

    /// Whether the server advertises IDLE (else [`Session::idle`] fails; poll instead).
    pub fn supports_idle(&self) -> bool {
        self.caps.idle
    }

    /// Whether the server reported more messages than the last [`Session::candidates`] saw:
    /// mail delivered after that search, announced during a later command, which an IDLE
    /// started now would not announce again.
    pub fn has_news(&mut self) -> bool {
        self.absorb_unsolicited();
        self.state.exists > self.exists_at_search
    }

    /// UIDs to look at, ascending and without duplicates: every unseen mail (`UID SEARCH
    /// UNSEEN`) plus every mail with a UID above `after_uid`, read or not, so that a
    /// notification someone else already opened is still seen. `None` means unseen mail only.
    pub async fn candidates(&mut self, after_uid: Option<u32>) -> Result<Vec<u32>, Error> {
        let imap = self.live()?;
        // A server may keep mail delivered since the last command out of this session's view
        // (Dovecot does) until a command lets it report it; NOOP is that command.
        if let Err(error) = imap.noop().await {
            return Err(self.fail("NOOP", error));
        }
        // The searches see the mailbox as of now. Mail reported during or after them (Dovecot
        // answers `* SEARCH` first, then `* n EXISTS` for mail delivered meanwhile) is news.
        self.absorb_unsolicited();
        let exists_before = self.state.exists;
        let imap = self.live()?;
        let unseen = match imap.uid_search("UNSEEN").await {
            Ok(uids) => uids,
            Err(error) => return Err(self.fail("UID SEARCH", error)),
        };
        let mut uids: Vec<u32> = unseen.into_iter().collect();
        if let Some(after) = after_uid.and_then(|uid| uid.checked_add(1)) {
            let imap = self.live()?;
            // `n:*` also matches the highest UID when that is below n (RFC 3501 6.4.8), hence
            // the filter; and a separate search so that filter cannot drop an unseen mail.
            match imap.uid_search(format!("UID {after}:*")).await {
                Ok(newer) => uids.extend(newer.into_iter().filter(|&uid| uid >= after)),
                Err(error) => return Err(self.fail("UID SEARCH", error)),
            }
        }
        uids.sort_unstable();
        uids.dedup();
        self.exists_at_search = exists_before;
        Ok(uids)
    }

    /// `RFC822.SIZE` of these UIDs as `(uid, bytes)`, ascending by UID, so oversized mail can be
    /// skipped without downloading it. UIDs that no longer exist are left out.
    pub async fn sizes(&mut self, uids: &[u32]) -> Result<Vec<(u32, u32)>, Error> {
        let mut wanted = uids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let mut sizes = Vec::with_capacity(wanted.len());
        for chunk in wanted.chunks(UIDS_PER_COMMAND) {
            let fetches = self.uid_fetch(&uid_set(chunk), "(UID RFC822.SIZE)").await?;
            sizes.extend(fetches.iter().filter_map(|fetch| {
                let uid = fetch.uid?;
                let size = fetch.size?;
                chunk.binary_search(&uid).is_ok().then_some((uid, size))
            }));
        }
        sizes.sort_unstable();
        sizes.dedup_by_key(|(uid, _)| *uid);
        Ok(sizes)
    }

    /// `UID FETCH <set> <query>`, every answer collected; unsolicited responses absorbed.
    async fn uid_fetch(&mut self, set: &str, query: &str) -> Result<Vec<Fetch>, Error> {
        let imap = self.live()?;
        let fetched = async {
            imap.uid_fetch(set, query)
                .await?
                .try_collect::<Vec<Fetch>>()
                .await
        }
        .await;
        match fetched {
            Ok(fetches) => {
                self.absorb_unsolicited();
                Ok(fetches)
            }
            Err(error) => Err(self.fail("UID FETCH", error)),
        }
    }

    /// Downloads one mail with `BODY.PEEK[]`, which leaves its `\Seen` flag alone. `None` if
    /// the UID no longer exists (moved or expunged meanwhile).
    pub async fn fetch(&mut self, uid: u32) -> Result<Option<FetchedMail>, Error> {
        let fetches = self
            .uid_fetch(&uid.to_string(), "(UID RFC822.SIZE BODY.PEEK[])")
            .await?;
        Ok(fetches
            .iter()
            .filter(|fetch| fetch.uid == Some(uid))
            .find_map(|fetch| {
                fetch.body().map(|body| FetchedMail {
                    uid,
                    size: fetch.size,
                    raw: body.to_vec(),
                })
            }))
    }

    /// Sets `\Seen` on one mail (`UID STORE +FLAGS.SILENT`). A vanished UID is not an error.
    pub async fn mark_seen(&mut self, uid: u32) -> Result<(), Error> {
        self.store(uid, "+FLAGS.SILENT (\\Seen)").await
    }

    /// Whether one mail has `\Seen`; `false` also when the UID no longer exists.
    pub async fn is_seen(&mut self, uid: u32) -> Result<bool, Error> {
        let fetches = self.uid_fetch(&uid.to_string(), "(UID FLAGS)").await?;
        Ok(fetches
            .iter()
            .filter(|fetch| fetch.uid == Some(uid))
            .any(|fetch| fetch.flags().any(|flag| flag == Flag::Seen)))
    }

    /// Moves one mail to `folder`, creating the folder first if the server refuses because it
    /// does not exist. Uses `UID MOVE` where supported, else `UID COPY`, `\Deleted` and
    /// `UID EXPUNGE` (or, without UIDPLUS, a plain `EXPUNGE`, which also removes other mail
    /// already marked `\Deleted` in the watched mailbox).
    pub async fn move_to(&mut self, uid: u32, folder: &str) -> Result<(), Error> {
        let uid_text = uid.to_string();
        let moves = self.caps.moves;
        let command = if moves { "UID MOVE" } else { "UID COPY" };
        let mut created = false;
        loop {
            let imap = self.live()?;
            let result = if moves {
                imap.uid_mv(&uid_text, folder).await
            } else {
                imap.uid_copy(&uid_text, folder).await
            };
            match result {
                Ok(()) => break,
                Err(ImapError::No(m) | ImapError::Bad(m)) if created => {
                    return Err(Error::Mailbox {
                        server: self.server.clone(),
                        mailbox: folder.to_owned(),
                        message: tidy(&m),
                    });
                }
                Err(ImapError::No(_)) => {
                    // Usually `[TRYCREATE]`: the folder does not exist yet. If creating fails
                    // because it does exist after all, the second attempt reports the reason.
                    let imap = self.live()?;
                    match imap.create(folder).await {
                        Ok(()) => debug!(server = %self.server, folder, "IMAP folder created."),
                        Err(ImapError::No(_) | ImapError::Bad(_)) => {}
                        Err(error) => return Err(self.fail("CREATE", error)),
                    }
                    created = true;
                }
                Err(ImapError::Validate(_)) => {
                    return Err(Error::Mailbox {
                        server: self.server.clone(),
                        mailbox: folder.to_owned(),
                        message: "the name contains a line break".to_owned(),
                    });
                }
                Err(error) => return Err(self.fail(command, error)),
            }
        }
        if !moves {
            self.store(uid, "+FLAGS.SILENT (\\Deleted)").await?;
            let uidplus = self.caps.uidplus;
            let imap = self.live()?;
            let expunged = async {
                if uidplus {
                    imap.uid_expunge(&uid_text)
                        .await?
                        .try_collect::<Vec<u32>>()
                        .await
                } else {
                    imap.expunge().await?.try_collect::<Vec<u32>>().await
                }
            }
            .await;
            if let Err(error) = expunged {
                return Err(self.fail(if uidplus { "UID EXPUNGE" } else { "EXPUNGE" }, error));
            }
        }
        self.absorb_unsolicited();
        Ok(())
    }

    /// Waits with IDLE until the server reports a change, `timeout` passes (at most
    /// [`MAX_IDLE`]) or `stop` resolves, then ends IDLE (`DONE`) so the session can be used
    /// again. Fails if the server lacks IDLE ([`Session::supports_idle`]).
    ///
    /// Dropping the returned future mid-IDLE leaves the connection idling: the session then
    /// answers [`Error::Closed`]. Pass a `stop` future instead to end early and cleanly.
    pub async fn idle(
        &mut self,
        timeout: Duration,
        stop: impl Future<Output = ()>,
    ) -> Result<IdleOutcome, Error> {
        if !self.caps.idle {
            return Err(Error::Protocol {
                server: self.server.clone(),
                command: "IDLE",
                message: "the server does not support IDLE; poll instead".to_owned(),
            });
        }
        let timeout = timeout.min(MAX_IDLE);
        self.live()?;
        let Some(imap) = self.imap.take() else {
            unreachable!("live() checked the connection");
        };
        // The handle owns the session; a second receiver reads what it queues aside.
        let unsolicited = imap.unsolicited_responses.clone();
        let mut handle = imap.idle();
        if let Err(error) = handle.init().await {
            return Err(classify(&self.server, "IDLE", error, self.timeout));
        }
        // News reported before the server accepted IDLE went to the unsolicited channel and
        // will not be announced again: end this IDLE at once.
        absorb(&mut self.state, || unsolicited.try_recv().ok());
        let reported = self.state.exists > self.exists_at_search;
        // Waiting for news is the point now; writes stay bounded.
        handle.as_mut().set_read_limit(None);

        let (outcome, news) = if reported {
            (IdleOutcome::NewData, None)
        } else {
            let (wait, interrupt) = handle.wait_with_timeout(timeout);
            tokio::pin!(wait);
            tokio::pin!(stop);
            let deadline = tokio::time::sleep(timeout);
            tokio::pin!(deadline);
            enum Woke {
                Wait(async_imap::error::Result<IdleResponse>),
                Stop,
                Deadline,
            }
            let woke = tokio::select! {
                response = &mut wait => Woke::Wait(response),
                () = &mut stop => Woke::Stop,
                () = &mut deadline => Woke::Deadline,
            };
            // Dropping the stop handle interrupts the wait, which then returns at once.
            let (reason, response) = match woke {
                Woke::Wait(response) => (None, response),
                Woke::Stop => {
                    drop(interrupt);
                    (Some(IdleOutcome::Stopped), wait.await)
                }
                Woke::Deadline => {
                    drop(interrupt);
                    (Some(IdleOutcome::Timeout), wait.await)
                }
            };
            match (reason, response) {
                (_, Err(error)) => return Err(classify(&self.server, "IDLE", error, self.timeout)),
                (Some(IdleOutcome::Stopped), Ok(_)) => (IdleOutcome::Stopped, None),
                (_, Ok(IdleResponse::NewData(data))) => (IdleOutcome::NewData, Some(data)),
                (Some(reason), Ok(_)) => (reason, None),
                (None, Ok(IdleResponse::Timeout)) => (IdleOutcome::Timeout, None),
                (None, Ok(IdleResponse::ManualInterrupt)) => (IdleOutcome::Stopped, None),
            }
        };
        if let Some(data) = &news {
            match data.parsed() {
                Response::Data {
                    status: Status::Bye,
                    outcome,
                } => {
                    return Err(Error::Io {
                        server: self.server.clone(),
                        source: io::Error::new(
                            io::ErrorKind::ConnectionAborted,
                            format!(
                                "the server ended the session during IDLE: {}",
                                outcome.information.as_deref().unwrap_or("BYE")
                            ),
                        ),
                    });
                }
                Response::MailboxData(MailboxDatum::Exists(n)) => self.state.exists = *n,
                Response::Expunge(_) => self.state.exists = self.state.exists.saturating_sub(1),
                _ => {}
            }
        }

        handle.as_mut().set_read_limit(Some(self.timeout));
        match handle.done().await {
            Ok(imap) => self.imap = Some(imap),
            Err(error) => return Err(classify(&self.server, "DONE", error, self.timeout)),
        }
        self.absorb_unsolicited();
        debug!(server = %self.server, outcome = ?outcome, "IMAP IDLE ended.");
        Ok(outcome)
    }

    /// Says goodbye (`LOGOUT`) and closes the connection. A session already dropped after an
    /// error just closes.
    pub async fn logout(mut self) -> Result<(), Error> {
        let Some(imap) = self.imap.as_mut() else {
            return Ok(());
        };
        imap.as_mut().reset_timers();
        match imap.logout().await {
            Ok(()) => Ok(()),
            Err(error) => Err(self.fail("LOGOUT", error)),
        }
    }

    /// `UID STORE <uid> <query>`, its (usually empty) responses consumed.
    async fn store(&mut self, uid: u32, query: &str) -> Result<(), Error> {
        let imap = self.live()?;
        let stored = async {
            imap.uid_store(uid.to_string(), query)
                .await?
                .try_collect::<Vec<Fetch>>()
                .await
        }
        .await;
        if let Err(error) = stored {
            return Err(self.fail("UID STORE", error));
        }
        self.absorb_unsolicited();
        Ok(())
    }

    /// The connection, its timers re-armed for a new operation, or [`Error::Closed`].
    fn live(&mut self) -> Result<&mut ImapSession, Error> {
        match self.imap.as_mut() {
            Some(imap) => {
                imap.as_mut().reset_timers();
                Ok(imap)
            }
            None => Err(Error::Closed {
                server: self.server.clone(),
            }),
        }
    }

    /// Turns an async-imap error into ours; anything but a plain `NO`/`BAD` answer drops the
    /// connection, whose response stream is then in an unknown state.
    fn fail(&mut self, command: &'static str, error: ImapError) -> Error {
        if !matches!(
            error,
            ImapError::No(_) | ImapError::Bad(_) | ImapError::Validate(_)
        ) {
            self.imap = None;
        }
        classify(&self.server, command, error, self.timeout)
    }

    /// Applies the `EXISTS`/`EXPUNGE` responses async-imap queued aside (it only `try_send`s
    /// to a bounded channel, so draining also keeps news from being lost to a full channel).
    fn absorb_unsolicited(&mut self) {
        if let Some(imap) = self.imap.as_ref() {
            absorb(&mut self.state, || {
                imap.unsolicited_responses.try_recv().ok()
            });
        }
    }
}

/// Applies queued `EXISTS`/`EXPUNGE` responses to the mailbox counts.
pub(super) fn absorb(
    state: &mut MailboxState,
    mut next: impl FnMut() -> Option<UnsolicitedResponse>,
) {
    while let Some(response) = next() {
        match response {
            UnsolicitedResponse::Exists(n) => state.exists = n,
            UnsolicitedResponse::Expunge(_) => state.exists = state.exists.saturating_sub(1),
            _ => {}
        }
    }
}

impl From<&Capabilities> for Caps {
    fn from(caps: &Capabilities) -> Self {
        let has = |name: &str| {
            caps.iter()
                .any(|cap| matches!(cap, Capability::Atom(atom) if atom.eq_ignore_ascii_case(name)))
        };
        Caps {
            idle: has("IDLE"),
            moves: has("MOVE"),
            uidplus: has("UIDPLUS"),
        }
    }
}

/// `1:3,7,9:10` from ascending UIDs.
pub(super) fn uid_set(uids: &[u32]) -> String {
    let mut set = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !set.is_empty() {
            set.push(',');
        }
        if start == end {
            set.push_str(&start.to_string());
        } else {
            set.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    set
}
