using RsMoe.Contracts.V1;
using RsMoe.Scenes;

namespace RsMoe.Gateway.Scenes;

/// <summary>A tile's result as the gRPC API carries it.</summary>
static class SceneMessages
{
    public static SceneTileResult Tile(TileResult result, int done, int total)
    {
        var (tile, window) = (result.Tile, result.Tile.Window);
        var message = new SceneTileResult
        {
            Index = tile.Index, Column = tile.Column, Row = tile.Row,
            X = window.X, Y = window.Y, Width = window.Width, Height = window.Height,
            Error = result.Error ?? "", Done = done, Total = total,
        };
        if (result.Caption is { } caption)
        {
            message.Caption = caption.Caption;
            message.Theme = SceneGeoJson.NormaliseTheme(caption.Theme);
            message.Sections.AddRange(caption.Sections.Select(s => new Section { Aspect = s.Aspect, Expert = s.Expert, Text = s.Text }));
        }
        return message;
    }
}
