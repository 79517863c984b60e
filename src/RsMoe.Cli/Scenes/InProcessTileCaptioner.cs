using RsMoe.Captions;
using RsMoe.Model.Moe;
using RsMoe.Model.Vision;
using RsMoe.Scenes;

namespace RsMoe.Cli.Scenes;

/// <summary>Captions tiles with the model in this process: one encode per tile, then the caption and the theme question on the same features.</summary>
public sealed class InProcessTileCaptioner(RsMoeModel model, ImageBackbone backbone) : ITileCaptioner
{
    // One model, one decode at a time: the model is not safe to share between threads.
    readonly Lock _gate = new();

    public Task<TileCaption> CaptionAsync(byte[] png, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_gate)
        {
            using var tokens = backbone.Encode(png);
            var caption = model.Caption(tokens, CaptionPolicy.Instruction);
            var theme = model.Ask(tokens, CaptionPolicy.ThemeQuestion);
            return Task.FromResult(new TileCaption(caption.Caption, caption.Sections, theme.Answer));
        }
    }
}
