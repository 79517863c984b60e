using Google.Protobuf;
using Grpc.Core;
using RsMoe.Contracts.V1;

namespace RsMoe.Gateway.Pipeline;

/// <summary>
/// One batch policy for both APIs (gRPC <c>CaptionImages</c>, REST <c>POST /v1/caption/batch</c>): up to
/// <see cref="GatewayOptions.BatchConcurrency"/> images at once, the next one read only when one finishes (a fast client
/// cannot queue a whole archive in the gateway's memory), each with its own deadline, each result written as it
/// finishes. An image's own failure is its result and the batch goes on; the caller's cancellation stops it.
/// </summary>
public sealed class BatchCaptions(CaptionPipeline pipeline, GatewayOptions options)
{
    public sealed record Item(string Key, ByteString Image, string? Instruction);

    /// <summary>The caption, or the status it failed with.</summary>
    public sealed record Outcome(string Key, CaptionResponse? Caption, RpcException? Failure);

    public async Task RunAsync(IAsyncEnumerable<Item> items, Func<DateTime> deadline, Func<Outcome, CancellationToken, Task> write, CancellationToken cancellationToken)
    {
        using var writing = new SemaphoreSlim(1);
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = options.BatchConcurrency, CancellationToken = cancellationToken };
        await Parallel.ForEachAsync(items, parallel, async (item, token) =>
        {
            Outcome outcome;
            try
            {
                outcome = new Outcome(item.Key, await pipeline.CaptionAsync(item.Image, item.Instruction, deadline(), token), null);
            }
            catch (RpcException e) when (!token.IsCancellationRequested)
            {
                outcome = new Outcome(item.Key, null, e);
            }
            await writing.WaitAsync(token);
            try { await write(outcome, token); }
            finally { writing.Release(); }
        });
    }
}
