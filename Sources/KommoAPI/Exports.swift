// Users import only `KommoAPI`: the entity models (and the webhook parser) of `KommoModels` come with it.
@_exported import KommoModels
