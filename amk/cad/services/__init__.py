"""The CAD integration's writes: systems and keys, the incidents a CAD sends, callbacks."""
