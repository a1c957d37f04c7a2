//! [`Error`]: what [`Group`](crate::Group) and the registry report.

use std::fmt;
use std::sync::Arc;

/// An error from a getter or a peer, shared by every waiter of one load.
///
/// Callers can `downcast_ref` it back to the getter's own error type: it
/// reaches them intact, not flattened to a string.
pub type GetterError = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of [`Group`](crate::Group) and the group registry.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Error {
    /// The getter returned this error. Every caller that shared the load
    /// gets the same error object; nothing was cached.
    Getter(GetterError),
    /// The getter panicked (message included). Nothing was cached; the key
    /// is free for the next load.
    LoaderPanicked(String),
    /// The caller that was loading the key went away without a result.
    Abandoned,
    /// A waiter's timeout passed before the load ended.
    Timeout,
    /// A group with this name is already registered.
    DuplicateGroup(String),
    /// Peers were already registered for this group.
    PeersAlreadyRegistered,
    /// The group was closed.
    Closed,
    /// The getter asked for its own key (on the same thread, directly or
    /// through other loads): waiting for itself would never end. Nothing
    /// was loaded for this caller; the outer load goes on.
    RecursiveLoad,
    /// The getter returned without setting a value (a binding's getter that
    /// set nothing; an empty value is a value, this is its absence).
    NoValue,
    /// An argument has no meaning (a negative budget, a zero TTL).
    InvalidArgument(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Getter(e) => write!(f, "getter failed: {e}"),
            Error::LoaderPanicked(m) => write!(f, "getter panicked: {m}"),
            Error::Abandoned => f.write_str("the load was abandoned by the caller running it"),
            Error::Timeout => f.write_str("timed out waiting for a load in flight"),
            Error::DuplicateGroup(n) => write!(f, "a group named {n:?} is already registered"),
            Error::PeersAlreadyRegistered => f.write_str("peers are already registered for this group"),
            Error::Closed => f.write_str("the group is closed"),
            Error::RecursiveLoad => {
                f.write_str("recursive load: the getter asked for the key it is loading, on the same thread")
            }
            Error::NoValue => f.write_str("the getter returned without setting a value"),
            Error::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Getter(e) => Some(&**e),
            _ => None,
        }
    }
}

impl From<crate::flight::FlightError<Error>> for Error {
    fn from(e: crate::flight::FlightError<Error>) -> Self {
        use crate::flight::FlightError;
        match e {
            FlightError::Failed(e) => e,
            FlightError::LoaderPanicked(m) => Error::LoaderPanicked(m),
            FlightError::Abandoned => Error::Abandoned,
            FlightError::Timeout => Error::Timeout,
            FlightError::RecursiveLoad => Error::RecursiveLoad,
        }
    }
}
