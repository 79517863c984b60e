using Google.Protobuf;
using Grpc.Core;
using RsMoe.Captions;
using RsMoe.Contracts.V1;
using RsMoe.Scenes;

namespace RsMoe.Cli.Scenes;

/// <summary>
/// Captions tiles through a gateway's gRPC API: Caption, then Ask with the theme question (its features come from the
/// gateway's cache, filled by the caption). Each call has its own deadline.
/// </summary>
public sealed class GatewayTileCaptioner(Captioner.CaptionerClient client, Metadata headers, TimeSpan deadline) : ITileCaptioner
{
    public async Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken)
    {
        var image = ByteString.CopyFrom(png);
        var caption = await client.CaptionAsync(new CaptionRequest { Image = image }, headers, DateTime.UtcNow + deadline, cancellationToken);
        var theme = await client.AskAsync(new AskRequest { Image = image, Question = CaptionPolicy.ThemeQuestion }, headers, DateTime.UtcNow + deadline, cancellationToken);
        var missing = caption.Sections.Where(s => s.Error.Length > 0).ToList();
        if (missing.Count == caption.Sections.Count) throw new InvalidOperationException($"no expert wrote a section: {string.Join("; ", missing.Select(s => $"{s.Aspect}: {s.Error}"))}");
        return new TileCaption(caption.Caption, caption.Sections.Where(s => s.Error.Length == 0).Select(s => new CaptionSection(s.Aspect, s.Expert, s.Text)).ToList(), theme.Answer);
    }
}
