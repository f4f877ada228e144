//! Look inside a shipped model through its hooks: the prediction for a sentence, the size of
//! each step's hidden state, and each token's gradient norm (first-derivative saliency).
//!
//! `cargo run --release --example trace -- "I hate the movie though the plot is interesting ."`
//! (optional second argument: a model directory; default `data/models/bilstm-fine`).

use std::path::PathBuf;

use candle_core::{Device, Var, D};
use salient::checkpoint::load_classifier;
use salient::data::Batch;
use salient::model::{Direction, SiteKind, Trace, TraceRequest};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let text = args.next().unwrap_or_else(|| "I like the movie though the plot is boring .".to_string());
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "data/models/bilstm-fine".to_string()));
    let loaded = load_classifier(&dir, &Device::Cpu)?;
    let encoded = loaded.vocab.encode_text(&text)?;
    anyhow::ensure!(!encoded.ids.is_empty(), "the text has no tokens");
    let batch = Batch::from_sequences(&[encoded.ids.clone()], Vec::new());

    // Embeddings as a gradient leaf; the trace records hidden states and the logits.
    let x = Var::from_tensor(&loaded.model.embed(&batch)?)?;
    let mut trace = Trace::new(TraceRequest { hidden: true, logits: true, ..Default::default() });
    let logits = loaded.model.forward_embedded(x.as_tensor(), None, None, &mut trace)?;
    let class = logits.argmax(D::Minus1)?.to_vec1::<u32>()?[0] as usize;
    let probs = trace.probabilities()?.expect("logits were recorded").to_vec2::<f32>()?;
    let names = loaded.card.model.task.names();
    println!("{text}\n→ {} (p = {:.3})", names[class], probs[0][class]);

    let grads = logits.narrow(1, class, 1)?.sum_all()?.backward()?;
    let saliency = grads.get(x.as_tensor()).expect("embeddings are a leaf").sqr()?.sum(D::Minus1)?.sqrt()?;
    let saliency = saliency.to_vec2::<f32>()?;
    let hidden = trace.steps(SiteKind::Hidden, Direction::Forward, None)?.expect("hidden states were recorded");
    let norms = hidden.sqr()?.sum(D::Minus1)?.sqrt()?.to_vec2::<f32>()?;
    println!("{:<16} {:>10} {:>12}", "token", "|dS/de|", "|h_t| (fwd)");
    for (i, word) in encoded.words.iter().enumerate() {
        println!("{word:<16} {:>10.4} {:>12.4}", saliency[0][i], norms[0][i]);
    }
    Ok(())
}
