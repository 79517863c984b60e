using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using RsMoe.Data.Images;

namespace RsMoe.ImageEncoder;

/// <summary>
/// One worker runs the backbone; concurrent requests that arrive while it works are encoded together in its next
/// pass (up to <see cref="ImageEncoderOptions.MaxBatch"/> images of the same preprocessed size). A request whose
/// caller gave up is dropped before it costs anything.
/// </summary>
public sealed class EncoderBatcher(VisualTokenizer tokenizer, ImageEncoderOptions options, ILogger<EncoderBatcher> logger) : BackgroundService
{
    sealed record Pending(PixelTensor Pixels, TaskCompletionSource<(float[] Tokens, long Count)> Done, CancellationToken Cancellation);

    static readonly Meter Meter = new("RsMoe.ImageEncoder");
    static readonly Histogram<double> EncodeMs = Meter.CreateHistogram<double>("rsmoe.image_encoder.encode.duration", "ms", "One backbone pass");
    static readonly Counter<long> Images = Meter.CreateCounter<long>("rsmoe.image_encoder.images", "{image}", "Images encoded");
    static readonly Histogram<int> BatchSize = Meter.CreateHistogram<int>("rsmoe.image_encoder.batch.size", "{image}", "Images per backbone pass");

    readonly Channel<Pending> _queue = Channel.CreateUnbounded<Pending>(new UnboundedChannelOptions { SingleReader = true });

    public Task<(float[] Tokens, long Count)> EncodeAsync(PixelTensor pixels, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<(float[], long)>(TaskCreationOptions.RunContinuationsAsynchronously);
        cancellationToken.Register(() => done.TrySetCanceled(cancellationToken));
        if (!_queue.Writer.TryWrite(new Pending(pixels, done, cancellationToken)))
            done.TrySetException(new InvalidOperationException("the image encoder is shutting down"));
        return done.Task;
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => Task.Factory.StartNew(() => Run(stoppingToken),
        stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();

    async Task Run(CancellationToken stoppingToken)
    {
        var batch = new List<Pending>();
        while (await _queue.Reader.WaitToReadAsync(stoppingToken))
        {
            batch.Clear();
            while (batch.Count < options.MaxBatch && _queue.Reader.TryRead(out var next))
                if (!next.Cancellation.IsCancellationRequested) batch.Add(next);
            foreach (var group in batch.GroupBy(p => (p.Pixels.Height, p.Pixels.Width)))
                EncodeGroup(group.ToList());
        }
    }

    void EncodeGroup(List<Pending> group)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            var (tokens, count) = tokenizer.EncodeBatch(group.Select(p => p.Pixels).ToList());
            for (int i = 0; i < group.Count; i++) group[i].Done.TrySetResult((tokens[i], count));
        }
        catch (Exception e)
        {
            logger.LogError(e, "encoding {Count} images failed", group.Count);
            foreach (var p in group) p.Done.TrySetException(e);
        }
        EncodeMs.Record(clock.Elapsed.TotalMilliseconds);
        BatchSize.Record(group.Count);
        Images.Add(group.Count);
    }
}
