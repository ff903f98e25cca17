import Engine
@testable import Model

/// Parameters of `layout` drawn from a standard normal distribution, the same for the same seed.
func randomStore(_ layout: ParameterLayout, seed: UInt64) -> ParameterStore {
    let store = ParameterStore(layout: layout)
    var random = PhiloxRandom(seed: seed)
    store.initialize { _, values in random.fillNormal(values) }
    return store
}
