//! QR codes as inline SVG (for TOTP enrolment and tickets): no images to
//! serve, crisp on any phone screen.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG QR code of `text`, or an empty string if it is too long to encode.
pub fn svg(text: &str) -> String {
    match QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M) {
        Ok(code) => {
            let document = code
                .render::<svg::Color>()
                .min_dimensions(180, 180)
                .quiet_zone(true)
                .build();
            // Inline in HTML: drop the XML declaration before `<svg`.
            match document.find("<svg") {
                Some(start) => document[start..].to_string(),
                None => document,
            }
        }
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_svg() {
        let svg = super::svg("otpauth://totp/x?secret=ABC");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(super::svg(&"x".repeat(10_000)).is_empty());
    }
}
