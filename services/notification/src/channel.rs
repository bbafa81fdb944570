//! Where a notification goes. Today only `log`; KakaoTalk and webhook join
//! as new variants: one name, one `deliver` arm each.

/// What a channel needs to send one notification.
#[derive(Clone, Copy, Debug)]
pub struct Message<'a> {
    pub booking_number: &'a str,
    pub customer_id: &'a str,
    pub text: &'a str,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Channel {
    /// A structured `info!` line: for development and as the fallback.
    Log,
}

impl Channel {
    /// Parses a configured channel name.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.trim() {
            "log" => Ok(Self::Log),
            other => Err(format!("unknown notification channel {other:?} (known: log)")),
        }
    }

    /// The name stored with each delivery.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Log => "log",
        }
    }

    /// Sends one message; an error means "try again later".
    pub async fn deliver(&self, message: Message<'_>) -> anyhow::Result<()> {
        match self {
            Self::Log => {
                tracing::info!(
                    message = "Notification.",
                    booking_number = message.booking_number,
                    customer_id = message.customer_id,
                    channel = self.name(),
                    text = message.text,
                );
                Ok(())
            }
        }
    }
}

/// Parses the configured channel list: at least one, no unknown names, no duplicates.
pub fn parse_all(names: &[String]) -> anyhow::Result<Vec<Channel>> {
    let mut channels: Vec<Channel> = Vec::new();
    for name in names {
        let channel = Channel::parse(name).map_err(anyhow::Error::msg)?;
        if !channels.contains(&channel) {
            channels.push(channel);
        }
    }
    anyhow::ensure!(!channels.is_empty(), "configure at least one notification channel");
    Ok(channels)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_known_channels_once() {
        let channels = parse_all(&["log".into(), " log ".into()]).unwrap();
        assert_eq!(channels, [Channel::Log]);
        assert_eq!(channels[0].name(), "log");
    }

    #[test]
    fn refuses_unknown_or_no_channels() {
        assert!(parse_all(&["pigeon".into()]).is_err());
        assert!(parse_all(&[]).is_err());
    }
}
