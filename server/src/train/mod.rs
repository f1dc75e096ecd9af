//! Fine-tuning services: local LoRA training ([`local`]) and the OpenAI fine-tuning API ([`remote`]).
pub mod jobs;
pub mod local;
pub mod remote;
