//! One attempt of a sequence: each step sent to the target through [`api::client`] and answered
//! by the model — the simulator's rules in process (`model`: [`Rules::answer`], reseeded for every
//! attempt) — then compared: the target's answer judged alone (`schema::judge`, as a hand-written
//! case's), then status, error code, the answer's body, and after every write each registration
//! read back on both sides. The first difference ends the attempt as a [`Divergence`].
//!
//! Every attempt starts from a state the run established itself: the embedded simulator is reset
//! (its admin route) and the model is seeded the same way; a live target's devices are
//! depersonalized and their writable fields put back to a known state (`isPrimary` false,
//! `registrationEnabled` true, the custom attributes deleted with `null`), and each attempt's
//! identities come from a namespace no earlier attempt used. Requests are paced to the run's
//! rate and count against its request budget; the attempt stops at the run's deadline.
//!
//! [`api::client`]: crate::api::client

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::compare::{Divergence, Where, choice_for, error_code, first_difference, normalize};
use super::model::{Model, identity_sent, known_state_patch};
use super::step::{Body, Namespace, Step};
use crate::api::client::{Call, Client, ClientError, Response};
use crate::api::{Operation, field};
use crate::mock::{AdminClient, Rules, SimulatorConfig};
use crate::schema::Mode;
use crate::schema::judge::{Meaning, judge};

/// Why an attempt stopped without a verdict.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the run's time is up")]
    Deadline,
    #[error("the request budget is spent")]
    Budget,
    #[error("interrupted by a stop signal (Ctrl-C, SIGTERM or SIGHUP)")]
    Interrupted,
    #[error("the model cannot be seeded: {0}")]
    Model(String),
    #[error("the target could not be put back to a known state: {0}")]
    Reset(String),
}

/// What one attempt showed.
#[derive(Debug)]
pub struct Attempt {
    pub divergence: Option<Divergence>,
    /// Steps sent before it ended.
    pub steps_run: usize,
    pub namespace: Namespace,
}

/// How a target is put back to a known state before each attempt.
#[derive(Debug, Clone)]
pub enum Reset {
    /// The embedded simulator's reset to its seeded state.
    Simulator { admin: AdminClient },
    /// A live target's devices, through the API (see the module's header).
    Live,
}

/// The target, the model's configuration, and the run's limits.
pub struct Engine {
    pub client: Client,
    /// The target's registration IDs, `r0`, `r1`, ….
    pub ids: Vec<String>,
    pub model_config: SimulatorConfig,
    pub reset: Reset,
    pub mode: Mode,
    pub live: bool,
    pub run: u64,
    /// Smallest gap between two requests to the target (`--max-rps`).
    pub gap: Duration,
    pub deadline: Instant,
    pub attempts: u32,
    /// The model, reseeded for every attempt (built once: seeding its tables is the costly part).
    model: Option<Model>,
    /// Requests sent to the target so far.
    pub requests: usize,
    /// The run's progress counters (shared with whoever shows them).
    pub progress: std::sync::Arc<super::Progress>,
    /// Requests the target may still get (`None`: no limit but the deadline).
    pub budget: Option<usize>,
    last_sent: Option<Instant>,
    /// The identities (as sent) whose person the target answered as LEAD in this sequence.
    leads: HashSet<String>,
    /// This step personalizes with keepAsLead=true an identity the target showed as LEAD:
    /// a CUSTOMER now breaks the documented rule whatever type a new person starts with.
    lead_shown: bool,
    /// A live target's custom attributes per device after its known state was set up: what a
    /// target that cannot delete kept. The model adopts them, so sequences start from the state
    /// the devices are really in.
    adopted: Vec<Value>,
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: Client,
        ids: Vec<String>,
        model_config: SimulatorConfig,
        reset: Reset,
        mode: Mode,
        run: u64,
        max_rps: Option<u32>,
        deadline: Instant,
    ) -> Engine {
        let live = matches!(reset, Reset::Live);
        Engine {
            client,
            ids,
            model_config,
            reset,
            mode,
            live,
            run,
            gap: max_rps.map_or(Duration::ZERO, |r| Duration::from_secs(1) / r.max(1)),
            deadline,
            attempts: 0,
            model: None,
            requests: 0,
            progress: std::sync::Arc::default(),
            budget: None,
            last_sent: None,
            leads: HashSet::new(),
            lead_shown: false,
            adopted: Vec::new(),
        }
    }

    /// Runs `steps` from a known state, in a fresh namespace, until the first divergence.
    pub async fn attempt(&mut self, steps: &[Step]) -> Result<Attempt, AttemptError> {
        self.attempts += 1;
        let namespace = Namespace::new(self.run, self.attempts);
        let model = self.model()?;
        let outcome = self.sequence(&model, steps, namespace).await;
        self.model = Some(model);
        outcome
    }

    async fn sequence(
        &mut self,
        model: &Model,
        steps: &[Step],
        namespace: Namespace,
    ) -> Result<Attempt, AttemptError> {
        self.establish().await?;
        self.leads.clear();
        if self.live {
            for reg in 0..self.ids.len() as u8 {
                let adopted = self.adopted.get(usize::from(reg)).unwrap_or(&Value::Null);
                model.known_state(reg, adopted);
            }
        }
        for (i, step) in steps.iter().enumerate() {
            if let Some(mut d) = self.step(model, step, &namespace).await? {
                d.step = i;
                return Ok(Attempt {
                    divergence: Some(d),
                    steps_run: i + 1,
                    namespace,
                });
            }
        }
        Ok(Attempt {
            divergence: None,
            steps_run: steps.len(),
            namespace,
        })
    }

    /// The model in its seeded state.
    fn model(&mut self) -> Result<Model, AttemptError> {
        let config = &self.model_config;
        if let Some(model) = self.model.take() {
            model
                .rules
                .reseed(config.seed, config.seed_registrations)
                .map_err(|e| AttemptError::Model(e.to_string()))?;
            return Ok(model);
        }
        let rules = Rules::new(config).map_err(|e| AttemptError::Model(e.to_string()))?;
        let (_, page) = rules.registrations(0, self.ids.len());
        let auth = self
            .model_config
            .credentials
            .first()
            .map(|c| c.header_value().expose().to_owned())
            .unwrap_or_default();
        let app_code = self
            .model_config
            .applications
            .first()
            .map(|a| a.app_code.clone())
            .unwrap_or_default();
        Ok(Model {
            rules,
            ids: page.into_iter().map(|(id, _)| id).collect(),
            auth,
            app_code,
        })
    }

    /// One step on both sides, compared; `None` when they agree.
    async fn step(
        &mut self,
        model: &Model,
        step: &Step,
        ns: &Namespace,
    ) -> Result<Option<Divergence>, AttemptError> {
        let target = self.send(&self.call(step, ns)).await?;
        let expected = model.answer(step, ns);
        let op = step.operation();
        let at = |at: Where, pointer: String, expected: String, got: String| Divergence {
            step: 0,
            choice: None,
            at,
            pointer,
            expected,
            got,
        };
        let identity = identity_sent(step, ns);
        self.remember_leads(step, &identity, target.status, &target.body);
        let id = self
            .ids
            .get(usize::from(step.reg()))
            .map_or("", String::as_str);
        let text = |key: &str| identity.get(key).and_then(Value::as_str);
        let meaning = match op {
            Operation::Get => Meaning::Registration { id },
            Operation::Personalize if !identity.is_null() => Meaning::Person {
                // "null", "Null" and "NULL" mean no externalId [doc].
                external_id: text(field::EXTERNAL_ID)
                    .filter(|e| !matches!(*e, "null" | "Null" | "NULL")),
                phone: text(field::PHONE_NUMBER),
                email: text(field::EMAIL),
            },
            _ => Meaning::Nothing,
        };
        let ct = target.content_type.as_deref();
        let judged = judge(
            op,
            target.status,
            ct,
            &target.body,
            true,
            self.mode,
            &meaning.into(),
        );
        if let Some(problem) = judged.problem {
            let what = "an answer the contract allows".to_owned();
            return Ok(Some(at(
                Where::Contract,
                String::new(),
                what,
                problem.message,
            )));
        }
        if target.status != expected.status {
            let (e, g) = (expected.status.to_string(), target.status.to_string());
            return Ok(Some(self.classify(
                at(Where::Status, String::new(), e, g),
                step,
                expected.status,
            )));
        }
        let (e, g) = (error_code(&expected.body), error_code(&target.body));
        if e != g {
            let shown = |c: Option<String>| c.unwrap_or_else(|| "none".into());
            let d = at(Where::ErrorCode, String::new(), shown(e), shown(g));
            return Ok(Some(self.classify(d, step, expected.status)));
        }
        if target.status == 200
            && let Some(d) = self.compare(&expected.body, &target.body, &model.ids)
        {
            let d = at(Where::Answer, d.0, d.1, d.2);
            return Ok(Some(self.classify(d, step, expected.status)));
        }
        if step.writes() {
            return self.read_back(model, step, expected.status).await;
        }
        Ok(None)
    }

    /// Every registration read on both sides after a write.
    async fn read_back(
        &mut self,
        model: &Model,
        step: &Step,
        status: u16,
    ) -> Result<Option<Divergence>, AttemptError> {
        let ns = Namespace::new(self.run, 0);
        for reg in 0..self.ids.len() as u8 {
            let get = Step::Get { reg };
            let target = self.send(&self.call(&get, &ns)).await?;
            let expected = model.answer(&get, &ns);
            let difference = if target.status != expected.status {
                Some((
                    String::new(),
                    expected.status.to_string(),
                    target.status.to_string(),
                ))
            } else {
                self.compare(&expected.body, &target.body, &model.ids)
            };
            if let Some((pointer, e, g)) = difference {
                let at = Where::ReadBack { reg };
                let d = Divergence {
                    step: 0,
                    choice: None,
                    at,
                    pointer,
                    expected: e,
                    got: g,
                };
                return Ok(Some(self.classify(d, step, status)));
            }
        }
        Ok(None)
    }

    /// Notes whether this personalize keeps as LEAD a person the target showed as LEAD, then
    /// whether the target answers it as LEAD now.
    fn remember_leads(&mut self, step: &Step, identity: &Value, status: u16, body: &[u8]) {
        self.lead_shown = false;
        if step.operation() != Operation::Personalize || identity.is_null() || status != 200 {
            return;
        }
        let key = identity.to_string();
        self.lead_shown = step.flags().keep_as_lead && self.leads.contains(&key);
        let answer = serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
        if answer.get(field::TYPE).and_then(Value::as_str) == Some("LEAD") {
            self.leads.insert(key);
        }
    }

    /// On a live target, the choice the divergence may be.
    fn classify(&self, mut d: Divergence, step: &Step, model_status: u16) -> Divergence {
        d.choice = if self.live {
            choice_for(step, &d, model_status, self.lead_shown)
        } else {
            None
        };
        d
    }

    /// The first difference of two JSON bodies, in comparable form.
    fn compare(
        &self,
        model: &[u8],
        target: &[u8],
        model_ids: &[String],
    ) -> Option<(String, String, String)> {
        let parse = |b: &[u8]| serde_json::from_slice::<Value>(b).unwrap_or(Value::Null);
        let expected = normalize(&parse(model), model_ids, self.live);
        let got = normalize(&parse(target), &self.ids, self.live);
        first_difference(&expected, &got)
    }

    /// The call of `step` on the target.
    fn call(&self, step: &Step, ns: &Namespace) -> Call {
        let id = self
            .ids
            .get(usize::from(step.reg()))
            .cloned()
            .unwrap_or_default();
        let mut call = Call::new(step.operation(), id);
        call.flags = step.flags().query();
        match step.body() {
            Some(Body::Json(v)) => call.json(ns.resolve(v)),
            Some(Body::Raw(text)) => call.raw("application/json", text.clone().into_bytes()),
            None => call,
        }
    }

    /// Sends one call, paced, within the deadline and the budget.
    async fn send(&mut self, call: &Call) -> Result<Response, AttemptError> {
        self.admit().await?;
        let response = tokio::time::timeout_at(self.deadline.into(), self.client.send(call))
            .await
            .map_err(|_| AttemptError::Deadline)??;
        Ok(response)
    }

    /// Waits for the pace, then counts one request.
    async fn admit(&mut self) -> Result<(), AttemptError> {
        if Instant::now() >= self.deadline {
            return Err(AttemptError::Deadline);
        }
        if crate::interrupt::interrupted() {
            return Err(AttemptError::Interrupted);
        }
        if let Some(budget) = &mut self.budget {
            *budget = budget.checked_sub(1).ok_or(AttemptError::Budget)?;
        }
        if let Some(last) = self.last_sent {
            let next = last + self.gap;
            if next > Instant::now() {
                tokio::time::sleep_until(next.into()).await;
            }
        }
        self.last_sent = Some(Instant::now());
        self.requests += 1;
        self.progress
            .requests
            .store(self.requests, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// The known state every attempt starts from.
    async fn establish(&mut self) -> Result<(), AttemptError> {
        match self.reset.clone() {
            Reset::Simulator { admin } => {
                self.admit().await?;
                let timeout = self.client.config().timeout;
                match admin.with_timeout(timeout).reset().await {
                    Ok(_) => Ok(()),
                    Err(e) => Err(AttemptError::Reset(e.to_string())),
                }
            }
            Reset::Live => {
                self.adopted.clear();
                for reg in 0..self.ids.len() {
                    let adopted = self.known_state(reg).await?;
                    self.adopted.push(adopted);
                }
                Ok(())
            }
        }
    }

    /// A live device: depersonalized, not primary, enabled, its custom attributes deleted (the
    /// model's devices get the same, see `Model::known_state`). A target that refuses `null`
    /// (a choice the docs leave open) keeps its attributes: the PATCH goes again without them,
    /// and what the device then holds is returned for the model to adopt.
    async fn known_state(&mut self, reg: usize) -> Result<Value, AttemptError> {
        let id = self.ids[reg].clone();
        let fail = |what: &str, r: &Response| {
            AttemptError::Reset(format!("{what} of {id} answered HTTP {}", r.status))
        };
        let r = self
            .send(&Call::new(Operation::Depersonalize, id.clone()))
            .await?;
        if r.status != 200 {
            return Err(fail("depersonalize", &r));
        }
        let r = self.send(&Call::new(Operation::Get, id.clone())).await?;
        let current: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        let mut body = known_state_patch(&current);
        let r = self
            .send(&Call::new(Operation::Patch, id.clone()).json(body.clone()))
            .await?;
        if (400..500).contains(&r.status) {
            body.as_object_mut()
                .map(|b| b.remove(field::ADDITIONAL_DATA));
            let again = self
                .send(&Call::new(Operation::Patch, id.clone()).json(body))
                .await?;
            if again.status != 200 {
                return Err(fail("the PATCH to a known state", &again));
            }
        } else if r.status != 200 {
            return Err(fail("the PATCH to a known state", &r));
        }
        let r = self.send(&Call::new(Operation::Get, id.clone())).await?;
        let now: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
        Ok(now
            .get(field::ADDITIONAL_DATA)
            .cloned()
            .unwrap_or(Value::Null))
    }
}
