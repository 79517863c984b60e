namespace RsMoe.Services.FunctionalTests.Support;

/// <summary>One in-process reference model per test class.</summary>
public sealed class DefaultModelFixture : IDisposable
{
    public DefaultModel Model { get; } = new();
    public void Dispose() => Model.Dispose();
}
