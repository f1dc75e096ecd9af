//! Dataset statistics: token distribution, billed tokens, epochs, cost.
