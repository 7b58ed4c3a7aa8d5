@_exported import SDKCore
