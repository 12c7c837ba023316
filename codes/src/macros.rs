//! The one macro that turns a list of `Variant => "wire_string"` pairs into a
//! code enum, so the string of each code is written exactly once.

/// Declares a fieldless code enum with its stable wire strings, plus `ALL`,
/// `as_str`, `parse`, `Display` and `FromStr` (an unknown string is an
/// [`UnknownCode`](crate::UnknownCode) naming it).
macro_rules! wire_codes {
    (
        $(#[$meta:meta])*
        pub enum $name:ident ($kind:literal) {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every code, in declaration order: for pre-registered metrics
            /// series, exhaustive tests and documentation.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The stable snake_case wire string (gRPC metadata, JSON, metric
            /// labels, audit records). Never change one: clients match on it.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( $name::$variant => $wire, )+
                }
            }

            /// The code whose wire string is `text`.
            pub fn parse(text: &str) -> Result<$name, $crate::UnknownCode> {
                match text {
                    $( $wire => Ok($name::$variant), )+
                    other => Err($crate::UnknownCode::new($kind, other)),
                }
            }
        }

        impl ::core::fmt::Display for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        /// Compares with a wire string, so tests can assert the contract
        /// (`assert_eq!(code, "sold_out")`) without spelling the variant.
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl ::core::str::FromStr for $name {
            type Err = $crate::UnknownCode;

            fn from_str(text: &str) -> Result<$name, $crate::UnknownCode> {
                $name::parse(text)
            }
        }
    };
}

pub(crate) use wire_codes;
