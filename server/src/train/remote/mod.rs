//! OpenAI fine-tuning API client (reqwest).
