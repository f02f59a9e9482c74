//! The flows of the callback application: `callback/chat.scxml` (one document for
//! chat-delay and chat-immediate, steered by the service's options) and `inbound_chat.scxml`
//! (the routing script of the chat interaction queue). Built into the binary, or read from a
//! directory at start; parsed once, shared by every session, and served by name at
//! `/genesys/1/document/service_template/callback/src/{file}` so they can be loaded by URL.

use scxml::model::Document;
use std::path::Path;
use std::sync::Arc;

/// The callback service's document, relative to the documents directory.
pub const CALLBACK_CHAT: &str = "callback/chat.scxml";
/// The inbound chat routing script, relative to the documents directory.
pub const INBOUND_CHAT: &str = "inbound_chat.scxml";

const BUILT_IN: [(&str, &str); 2] = [
    (
        CALLBACK_CHAT,
        include_str!("../../../scxml/callback/chat.scxml"),
    ),
    (
        INBOUND_CHAT,
        include_str!("../../../scxml/inbound_chat.scxml"),
    ),
];

/// One flow: its text (to serve) and its parsed model (to run).
#[derive(Debug)]
pub struct Flow {
    /// The path relative to the documents directory.
    pub path: &'static str,
    pub text: String,
    pub document: Arc<Document>,
}

/// Both flows.
#[derive(Debug)]
pub struct FlowDocuments {
    pub callback_chat: Flow,
    pub inbound_chat: Flow,
}

impl FlowDocuments {
    /// Loads the flows from `dir`, or the built-in copies; any problem refuses the start.
    pub fn load(dir: Option<&Path>) -> Result<FlowDocuments, String> {
        let mut flows = BUILT_IN.iter().map(|(path, built_in)| {
            let text = match dir {
                Some(dir) => {
                    let file = dir.join(path);
                    std::fs::read_to_string(&file)
                        .map_err(|e| format!("{}: {e}", file.display()))?
                }
                None => built_in.to_string(),
            };
            let document =
                scxml::parse::parse_str(&text, path, None).map_err(|e| format!("{path}: {e}"))?;
            Ok::<_, String>(Flow {
                path,
                text,
                document: Arc::new(document),
            })
        });
        let callback_chat = flows.next().expect("two built-in flows")?;
        let inbound_chat = flows.next().expect("two built-in flows")?;
        Ok(FlowDocuments {
            callback_chat,
            inbound_chat,
        })
    }

    /// A flow by its file name (`chat.scxml`, `inbound_chat.scxml`), for serving.
    pub fn by_file_name(&self, name: &str) -> Option<&Flow> {
        [&self.callback_chat, &self.inbound_chat]
            .into_iter()
            .find(|f| f.path.rsplit('/').next() == Some(name))
    }
}
