using RsMoe.Captions;
using RsMoe.Cli.Batch;
using RsMoe.Scenes;

namespace RsMoe.Cli.Scenes;

/// <summary>
/// Captions tiles through a gateway: its caption as any archive image gets it (<see cref="GatewayBatchCaptioner"/>), then
/// the theme question, whose features come from the gateway's cache, filled by the caption.
/// </summary>
public sealed class GatewayTileCaptioner(GatewayBatchCaptioner captions) : ITileCaptioner
{
    public async Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken)
    {
        var caption = await captions.CaptionAsync(png, CaptionPolicy.Instruction, cancellationToken);
        string theme = await captions.AskAsync(png, CaptionPolicy.ThemeQuestion, cancellationToken);
        return new TileCaption(caption.Caption, caption.Sections, theme);
    }
}
