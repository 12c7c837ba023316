//! Who the buyer is: passwords, second factor, signed sessions, CSRF, lockout.

pub mod base32;
pub mod csrf;
pub mod lockout;
pub mod login;
pub mod password;
pub mod session;
pub mod totp;
