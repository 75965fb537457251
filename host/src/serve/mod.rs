//! Test mode as a server: a local endpoint speaking Lambda's API (Invoke,
//! ListFunctions, GetFunction) for one function or many, so `curl`, the
//! AWS CLI (`--endpoint-url`) and AWS SDKs can call handlers on a laptop.
//!
//! - [`config`]: which functions, from the command line or a JSON file.
//! - [`api`]: operations, function names, AWS's error and configuration shapes.
//! - [`invoke`]: the Invoke operation's invocation types, limits and headers.
//! - [`pool`]: each function's execution environments, and hot reload.
//! - [`tail`], [`watch`]: per-environment logs for `Tail`; code fingerprints.

pub mod api;
pub mod config;
pub mod invoke;
pub mod pool;
pub mod tail;
pub mod watch;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use self::api::{ApiError, FunctionRef, HttpResponse, LATEST, Operation};
use self::config::FunctionSpec;
use self::pool::Pool;
use crate::engine::HostEngine;
use crate::settings::LocalOptions;

/// Which functions `serve` serves.
#[derive(Debug, Clone)]
pub enum ServedFunctions {
    /// One handler, which any function name reaches.
    One(LocalOptions),
    /// The functions a JSON config file names ([`config`]), over these
    /// defaults (the command line's settings).
    ConfigFile {
        /// The file.
        path: PathBuf,
        /// Settings a function's entry leaves out.
        defaults: LocalOptions,
    },
}

/// What `lambda-wasm serve` serves, and where.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// The functions.
    pub functions: ServedFunctions,
    /// Environments per function unless its entry says otherwise.
    pub concurrency: usize,
    /// The address to listen on.
    pub listen: SocketAddr,
}

/// The default concurrency: one environment per core.
pub fn default_concurrency() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// The served functions by name.
struct Server {
    functions: BTreeMap<String, Arc<Pool>>,
    /// Set for one function given on the command line: every name reaches it.
    any_name: bool,
}

/// `lambda-wasm serve`: loads the functions, then answers requests until interrupted.
pub async fn serve(options: &ServeOptions) -> ExitCode {
    let server = match load(options).await {
        Ok(server) => Arc::new(server),
        Err(message) => {
            eprintln!("lambda-wasm: {message}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(options.listen).await {
        Ok(listener) => listener,
        Err(error) => {
            eprintln!(
                "lambda-wasm: cannot listen on {}: {error}; pick another with --listen",
                options.listen
            );
            return ExitCode::from(2);
        }
    };
    let address = listener.local_addr().map_or(options.listen, |a| a);
    for (name, pool) in &server.functions {
        eprintln!(
            "lambda-wasm: serving {name} ({}, {} environments) on http://{address}/2015-03-31/functions/{}/invocations",
            pool.settings().handler.raw,
            pool.concurrency(),
            if server.any_name { "function" } else { name },
        );
    }
    accept_loop(listener, server).await
}

/// Loads every function on one engine (one epoch ticker); a function that
/// fails its init stops the server with a message naming it.
async fn load(options: &ServeOptions) -> Result<Server, String> {
    let (specs, any_name) = match &options.functions {
        ServedFunctions::One(function) => {
            let spec = FunctionSpec {
                options: function.clone(),
                concurrency: options.concurrency,
            };
            (vec![spec], true)
        }
        ServedFunctions::ConfigFile { path, defaults } => {
            let specs =
                config::read(path, defaults, options.concurrency).map_err(|e| format!("{e:#}"))?;
            (specs, false)
        }
    };
    let engine = HostEngine::new().map_err(|e| format!("cannot start the engine: {e:#}"))?;
    let mut functions = BTreeMap::new();
    for spec in specs {
        let name = spec.options.function_name.clone().unwrap_or_default();
        let pool = Pool::load(spec, engine.clone()).await.map_err(|error| {
            format!(
                "init failed: {}{}: {}",
                if any_name {
                    String::new()
                } else {
                    format!("function {name}: ")
                },
                error.error_type,
                error.error_message
            )
        })?;
        functions.insert(pool.name().to_string(), Arc::new(pool));
    }
    Ok(Server {
        functions,
        any_name,
    })
}

async fn accept_loop(listener: TcpListener, server: Arc<Server>) -> ExitCode {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = tokio::signal::ctrl_c() => return ExitCode::SUCCESS,
        };
        let (stream, _) = match accepted {
            Ok(connection) => connection,
            Err(error) => {
                tracing::warn!("accept failed: {error}");
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let server = server.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let server = server.clone();
                async move { Ok::<_, Infallible>(server.handle(request).await) }
            });
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!("connection ended: {error}");
            }
        });
    }
}

impl Server {
    async fn handle(&self, request: Request<Incoming>) -> HttpResponse {
        self.dispatch(request)
            .await
            .unwrap_or_else(|error| error.response())
    }

    async fn dispatch(&self, request: Request<Incoming>) -> Result<HttpResponse, ApiError> {
        let uri = request.uri().clone();
        match api::operation(request.method(), uri.path(), uri.query())? {
            Operation::Invoke(reference) => {
                let pool = self.find(&reference)?.clone();
                let (parts, body) = request.into_parts();
                invoke::invoke(pool, parts.headers, body, reference.qualifier).await
            }
            Operation::ListFunctions => {
                let mut configurations = Vec::new();
                for pool in self.functions.values() {
                    configurations.push(api::function_configuration(pool, pool.loaded_at().await));
                }
                Ok(api::json_response(
                    StatusCode::OK,
                    &json!({ "Functions": configurations }),
                ))
            }
            Operation::GetFunction(reference) => {
                let pool = self.find(&reference)?;
                let configuration = api::function_configuration(pool, pool.loaded_at().await);
                let location = format!("file://{}", pool.settings().task_root.display());
                Ok(api::json_response(
                    StatusCode::OK,
                    &json!({
                        "Configuration": configuration,
                        "Code": { "RepositoryType": "Local", "Location": location },
                    }),
                ))
            }
            Operation::GetFunctionConfiguration(reference) => {
                let pool = self.find(&reference)?;
                let configuration = api::function_configuration(pool, pool.loaded_at().await);
                Ok(api::json_response(StatusCode::OK, &configuration))
            }
        }
    }

    /// The function `reference` names, at `$LATEST` (the only version served).
    fn find(&self, reference: &FunctionRef) -> Result<&Arc<Pool>, ApiError> {
        let pool = match self.any_name {
            true => self.functions.values().next(),
            false => self.functions.get(&reference.name),
        };
        match (pool, reference.qualifier.as_deref()) {
            (Some(pool), None | Some(LATEST)) => Ok(pool),
            (found, _) => {
                let region = found
                    .or_else(|| self.functions.values().next())
                    .map_or("us-east-1".to_string(), |p| {
                        crate::local::region(p.settings()).to_string()
                    });
                Err(api::function_not_found(&region, reference))
            }
        }
    }
}
