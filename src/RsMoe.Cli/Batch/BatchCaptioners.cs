using Google.Protobuf;
using Grpc.Core;
using RsMoe.Captions;
using RsMoe.Contracts.V1;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;

namespace RsMoe.Cli.Batch;

/// <summary>One image's caption for an archive's results, with where its time went.</summary>
public sealed record BatchCaption(string Caption, IReadOnlyList<CaptionSection> Sections, double EncodeMs, double CaptionMs);

/// <summary>Captions one image's bytes for <c>caption-batch</c>: in this process, or through a gateway.</summary>
public interface IBatchCaptioner
{
    Task<BatchCaption> CaptionAsync(byte[] image, string instruction, CancellationToken cancellationToken);
}

/// <summary>The model in this process; one image at a time (the model is not shared between threads).</summary>
public sealed class InProcessBatchCaptioner(RsMoeModel model, ImageBackbone backbone) : IBatchCaptioner
{
    readonly Lock _gate = new();

    public Task<BatchCaption> CaptionAsync(byte[] image, string instruction, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            using var tokens = backbone.Encode(image);
            double encoded = clock.Elapsed.TotalMilliseconds;
            var caption = model.Caption(tokens, instruction);
            return Task.FromResult(new BatchCaption(caption.Caption, caption.Sections, encoded, clock.Elapsed.TotalMilliseconds - encoded));
        }
    }
}

/// <summary>
/// A gateway's gRPC Caption call, several in flight at once; the timings are the gateway's own (image encoder, and
/// everything after it). A section an expert could not write is left out; an image no expert wrote for is an error.
/// </summary>
public sealed class GatewayBatchCaptioner(Captioner.CaptionerClient client, Metadata headers, TimeSpan deadline) : IBatchCaptioner
{
    public async Task<BatchCaption> CaptionAsync(byte[] image, string instruction, CancellationToken cancellationToken)
    {
        var response = await client.CaptionAsync(new CaptionRequest { Image = ByteString.CopyFrom(image), Instruction = instruction },
            headers, DateTime.UtcNow + deadline, cancellationToken);
        var written = response.Sections.Where(s => s.Error.Length == 0).Select(s => new CaptionSection(s.Aspect, s.Expert, s.Text)).ToList();
        if (written.Count == 0) throw new InvalidDataException($"no expert wrote a section: {string.Join("; ", response.Sections.Select(s => $"{s.Aspect}: {s.Error}"))}");
        double encode = response.TimingsMs.GetValueOrDefault("image_encoder");
        return new BatchCaption(response.Caption, written, encode, response.TimingsMs.GetValueOrDefault("total") - encode);
    }

    /// <summary>The answer to a question about the same image (its features are cached by the caption before it).</summary>
    public async Task<string> AskAsync(byte[] image, string question, CancellationToken cancellationToken) =>
        (await client.AskAsync(new AskRequest { Image = ByteString.CopyFrom(image), Question = question }, headers, DateTime.UtcNow + deadline, cancellationToken)).Answer;
}
