// Placeholder until the metrics endpoint lands.
